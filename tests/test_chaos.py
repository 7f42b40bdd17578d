"""Workers killed with SIGKILL while approvals arrive: nothing is lost, nothing happens twice, and
another process takes a dead worker's threads over within the lease and a sweep.

A short run of tests/chaos.py; `make chaos` runs the long one and prints its figures.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.chaos import ADMIN_URL, Plan, fresh_database, run

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture
def database() -> Iterator[str]:
    try:
        psycopg.connect(ADMIN_URL, connect_timeout=3).close()
    except psycopg.OperationalError as e:
        reason = f"PostgreSQL not reachable at {ADMIN_URL} ({e})"
        pytest.skip(f"{reason}; set SWITCHBOARD_TEST_POSTGRES to run the chaos test")
    with fresh_database(ADMIN_URL) as url:
        yield url


def test_killed_workers_lose_nothing_and_repeat_nothing(database: str, tmp_path: Path) -> None:
    plan = Plan(threads=30, kills=3, lease_seconds=2.0)

    figures = run(tmp_path, database, plan)

    report = "\n".join(figures.lines())
    assert figures.finished == plan.threads, report
    assert figures.lost == [] and figures.duplicated == [], report
    assert figures.tool_calls >= 2 * plan.threads, report  # check_release and deploy, each
    assert figures.stranded == 0, report
    # The one timing the issue asks to hold: 1 s more for the run itself, polling, a busy machine.
    assert all(t <= plan.takeover_bound + 1.0 for t in figures.takeovers), report
