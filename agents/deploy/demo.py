"""How the offline demo model plays the deploy bot: the same steps the prompt asks of a real model."""

from __future__ import annotations

import re
from typing import Any

from core.models.demo import Block, not_approved, result_of, since_last_message

_REQUEST = re.compile(
    r"deploy\s+(?P<service>[\w-]+)\s+(?:version\s+|v)?(?P<version>\d[\w.-]*)\s+to\s+(?P<env>\w+)",
    re.I,
)


_ROLLBACK = re.compile(
    r"roll\s*back\s+(?P<service>[\w-]+)\s+(?:in|on)\s+(?P<env>\w+)\s+to\s+(?:version\s+|v)?"
    r"(?P<version>\d[\w.-]*)",
    re.I,
)


def play(blocks: list[Block]) -> tuple[str, dict[str, Any]]:
    message, recent = since_last_message(blocks)
    back = _ROLLBACK.search(message.body) if message else None
    if back is not None:
        return _roll_back(back, recent)
    asked = _REQUEST.search(message.body) if message else None
    if asked is None:
        return "reply", {"message": 'I deploy releases. Try: "deploy api 2.4.1 to production".'}
    ref = {"service": asked["service"], "version": asked["version"]}
    environment = asked["env"].lower()
    if environment not in ("staging", "production"):
        return "reply", {"message": f"I can deploy to staging or production, not {environment}."}
    release = result_of(recent, "check_release")
    if release is None:
        return "check_release", ref
    if not release["exists"]:
        known = ", ".join(release.get("known_versions", [])) or "none"
        return "reply", {
            "message": f"{ref['service']} {ref['version']} does not exist (known: {known}).",
            "outcome": "failure",
        }
    if why := not_approved(recent):  # final: said, never asked again
        return "reply", {"message": f"Not deployed: {why}.", "outcome": "failure"}
    deployed = result_of(recent, "deploy")
    if deployed is None:
        return "deploy", {**ref, "environment": environment}
    return "reply", {"message": f"Deployed {ref['service']} {ref['version']} to {environment}."}


def _roll_back(asked: re.Match[str], recent: list[Block]) -> tuple[str, dict[str, Any]]:
    ref = {"service": asked["service"], "version": asked["version"]}
    environment = asked["env"].lower()
    release = result_of(recent, "check_release")
    if release is None:
        return "check_release", ref
    if not release["exists"]:
        return "reply", {
            "message": f"{ref['service']} {ref['version']} does not exist.",
            "outcome": "failure",
        }
    if why := not_approved(recent):
        return "reply", {"message": f"Not rolled back: {why}.", "outcome": "failure"}
    if result_of(recent, "rollback") is None:
        args = {"service": ref["service"], "environment": environment, "to_version": ref["version"]}
        return "rollback", args
    return "reply", {
        "message": f"Rolled {ref['service']} in {environment} back to {ref['version']}."
    }
