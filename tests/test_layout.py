"""The house rules that keep the layers honest: core imports no platform SDK, storage, channel or
agent; storage imports no agent or channel."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]
FORBIDDEN = {
    "storage",
    "channels",
    "agents",
    "slack_bolt",
    "slack_sdk",
    "discord",
    "twilio",
    "aiosmtplib",
    "aioimaplib",
    "sqlalchemy",
    "sqlmodel",
    "litellm",
}
# litellm is the model client: core/models/llm.py imports it lazily, inside the call.
LAZY_ONLY = {"litellm"}


def imports(path: Path) -> list[tuple[str, bool]]:
    """(top-level package, imported at module level) for each import in a file."""
    tree = ast.parse(path.read_text())
    top_level = {id(n) for n in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name.split(".")[0], id(node) in top_level) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module.split(".")[0], id(node) in top_level))
    return found


def test_core_imports_nothing_it_must_not() -> None:
    offences = []
    for path in sorted((ROOT / "core").rglob("*.py")):
        for module, at_top in imports(path):
            if module in FORBIDDEN and (at_top or module not in LAZY_ONLY):
                offences.append(f"{path.relative_to(ROOT)} imports {module}")
    assert offences == []


def test_storage_imports_no_agent_or_channel() -> None:
    """Storage finds agents' migrations through entry points at run time, never by import."""
    offences = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in sorted((ROOT / "storage").rglob("*.py"))
        for module, _ in imports(path)
        if module in {"agents", "channels"}
    ]
    assert offences == []


def test_importing_the_cli_does_not_import_litellm_or_the_database() -> None:
    code = "import sys, core.cli; print(sorted(m for m in ('litellm', 'sqlalchemy', 'storage') if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


PLATFORM = re.compile(r"\b(slack|discord|sms|email|twilio|smtp|imap)\b", re.IGNORECASE)
# The settings keep the names the design fixes (SLACK_BOT_TOKEN, …); a Python string that is a
# docstring may name a platform as an example. Nothing else in core does: each platform's
# knowledge (addresses, payloads, previews, conversations) lives in its channel.
NAMED_BY_DESIGN = {ROOT / "core" / "settings.py"}


def _strings(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        if id(node) not in docstrings
    ]


def test_core_names_no_platform() -> None:
    code = [p for p in (ROOT / "core").rglob("*.py") if p not in NAMED_BY_DESIGN]
    found = [(p, s) for p in code for s in _strings(p) if PLATFORM.search(s)]
    web = [p for p in (ROOT / "core" / "web").rglob("*") if p.suffix in (".html", ".css", ".js")]
    found += [(p, m[0]) for p in web for m in PLATFORM.finditer(p.read_text())]
    assert [f"{p.relative_to(ROOT)}: {s!r}" for p, s in found] == []


def _calls(path: Path, name: str) -> int:
    """How many calls in `path` are to a function or class named `name`."""
    return sum(
        1
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and (getattr(node.func, "id", None) == name or getattr(node.func, "attr", None) == name)
    )


def test_one_start_up() -> None:
    """Settings are read in one place (`load_settings`, which the CLI and `check` use), and a
    store is opened in one: the start-up function `serve`, `worker`, the CLI and the tests share
    (core/service.py)."""
    core = sorted((ROOT / "core").rglob("*.py"))
    settings = {str(p.relative_to(ROOT)): n for p in core if (n := _calls(p, "Settings"))}
    opened = {str(p.relative_to(ROOT)): n for p in core if (n := _calls(p, "open"))}
    assert settings == {"core/settings.py": 1}
    assert opened == {"core/service.py": 1}
