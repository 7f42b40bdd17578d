"""How the offline demo model plays the deploy bot: the same steps the prompt asks of a real model."""

from __future__ import annotations

import re
from typing import Any

from core.models.demo import Block, result_of, since_last_message

_REQUEST = re.compile(
    r"deploy\s+(?P<service>[\w-]+)\s+(?:version\s+|v)?(?P<version>\d[\w.-]*)\s+to\s+(?P<env>\w+)",
    re.I,
)


def play(blocks: list[Block]) -> tuple[str, dict[str, Any]]:
    message, recent = since_last_message(blocks)
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
    rejected = [b for b in recent if b.tag == "approval" and b.attrs.get("decision") == "rejected"]
    if rejected:
        why = rejected[-1].body or "no reason given"
        return "reply", {
            "message": f"Not deployed: {rejected[-1].attrs.get('by')} rejected it ({why}).",
            "outcome": "failure",
        }
    deployed = result_of(recent, "deploy")
    if deployed is None:
        return "deploy", {**ref, "environment": environment}
    return "reply", {"message": f"Deployed {ref['service']} {ref['version']} to {environment}."}
