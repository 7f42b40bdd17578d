"""`switchboard ARGS` run in the test's own process, for tests of what a command says and does
where a process of its own is not the point (each would cost a second of start-up and imports).
The command sees exactly `env` and works in `cwd`, as `subprocess.run` would give it; what it
prints is kept apart, stdout from stderr; an exception no command should let out fails the test.
"""

from __future__ import annotations

import logging
import os
import subprocess
import warnings
from collections.abc import Mapping
from pathlib import Path

from typer.testing import CliRunner

from core.cli import app


def run_in_process(
    args: tuple[str, ...], env: Mapping[str, str], cwd: Path, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    overlay: dict[str, str | None] = {name: None for name in os.environ if name not in env}
    overlay.update(env)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level  # start-up sets its own log handler
    here = Path.cwd()
    os.chdir(cwd)
    try:
        with warnings.catch_warnings():
            _as_python_starts()  # not pytest's, which make every warning an error
            result = CliRunner().invoke(app, list(args), input=stdin, env=overlay)
    finally:
        os.chdir(here)
        root.handlers[:] = handlers
        root.setLevel(level)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(
        ["switchboard", *args], result.exit_code, result.stdout, result.stderr
    )


def _as_python_starts() -> None:
    """The warning filters a new Python process has (`python -W` and PYTHONWARNINGS unset)."""
    warnings.resetwarnings()
    for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
        warnings.simplefilter("ignore", category)
