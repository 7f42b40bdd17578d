"""How long the `switchboard` command takes to start, as a user runs it."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class CliFigures:
    help_s: float
    threads_s: float

    def as_json(self) -> dict[str, float]:
        return {k: round(v, 4) for k, v in asdict(self).items()}


def _median_seconds(argv: list[str], env: dict[str, str], cwd: Path, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, check=False)
        times.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed:\n{done.stderr.decode()}")
    return statistics.median(times)


def measure(database_url: str, cwd: Path) -> CliFigures:
    """`--help` 10 times and `threads` 5 times, in `cwd` (no `.env`), on a migrated empty DB."""
    command = str(Path(sys.executable).with_name("switchboard"))
    env = {**os.environ, "DATABASE_URL": database_url, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    # `make` sets a people file; leave it out so the figure is the same however bench is started.
    env.pop("SWITCHBOARD_PEOPLE", None)
    return CliFigures(
        help_s=_median_seconds([command, "--help"], env, cwd, runs=10),
        threads_s=_median_seconds([command, "threads"], env, cwd, runs=5),
    )
