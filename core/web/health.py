"""Liveness, readiness and metrics: for load balancers and monitoring, without the token.

/metrics shows only counts (threads, requests and deliveries per status), nothing about their
content, so it needs no token: scrapers rarely carry one.
"""

from __future__ import annotations

import asyncio
from typing import Literal, get_args

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel

from core.errors import Misconfigured
from core.plugins import load_backend
from core.records import OutboxStatus, RequestStatus
from core.state import Status
from core.web.deps import ServiceDep
from core.web.problems import problem_response

router = APIRouter(include_in_schema=False)

READY_TIMEOUT = 5.0
PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8"
# Every known status is shown, at 0 when no row has it: a dashboard's series never disappears.
KNOWN: dict[str, tuple[str, ...]] = {
    "threads": tuple(s.value for s in Status),
    "requests": get_args(RequestStatus),
    "outbox": get_args(OutboxStatus),
}
HELP = {
    "threads": "Threads by status.",
    "requests": "Human requests by status.",
    "outbox": "Outbox deliveries by status; dead letters are status dead.",
}


class Health(BaseModel):
    status: Literal["ok", "ready"]


@router.get("/healthz")
async def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", response_model=None)
async def readyz(service: ServiceDep) -> Health | JSONResponse:
    url = service.app.settings.database_url

    def schema_is_current() -> bool:
        return load_backend().is_current(url)

    try:
        current = await asyncio.wait_for(asyncio.to_thread(schema_is_current), READY_TIMEOUT)
    except TimeoutError:
        return _not_ready(f"the database did not answer within {READY_TIMEOUT:g} s")
    except Misconfigured as e:  # said in one line already, the password masked
        return _not_ready(f"the database is unreachable: {e}")
    # The boundary of a probe: whatever the driver raises, the answer is "not ready, because…".
    except Exception as e:
        return _not_ready(f"the database is unreachable: {type(e).__name__}: {e}")
    if not current:
        return _not_ready("the database schema is not current: run `switchboard db upgrade`")
    return Health(status="ready")


def _not_ready(reason: str) -> JSONResponse:
    return problem_response(503, reason, kind="not-ready")


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(service: ServiceDep) -> PlainTextResponse:
    counts = await service.app.store.counts()
    lines: list[str] = []
    for table, known in KNOWN.items():
        found = counts.get(table, {})
        name = f"switchboard_{table}"
        lines += [f"# HELP {name} {HELP[table]}", f"# TYPE {name} gauge"]
        for status in dict.fromkeys([*known, *found]):
            lines.append(f'{name}{{status="{status}"}} {found.get(status, 0)}')
    dead = counts.get("outbox", {}).get("dead", 0)
    lines += [
        "# HELP switchboard_outbox_dead Dead letters: deliveries that gave up.",
        "# TYPE switchboard_outbox_dead gauge",
        f"switchboard_outbox_dead {dead}",
        "# HELP switchboard_channel_sandbox 1 when the channel runs in sandbox mode.",
        "# TYPE switchboard_channel_sandbox gauge",
    ]
    for name, channel in service.channels.items():
        lines.append(f'switchboard_channel_sandbox{{channel="{name}"}} {int(channel.sandbox)}')
    return PlainTextResponse("\n".join(lines) + "\n", media_type=PROMETHEUS)
