"""`python -m bench`: print the platform's own costs as a table, then one JSON line to diff."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import cli, hotpath, steps, throughput
from bench.databases import fresh_postgres, fresh_sqlite

KS = (10, 50, 200)
TARGETS = {
    "ms_per_step": 0.5,
    "bytes_per_step": 2048,
    "resume_ms": 2.0,
    "threads_per_s": 300,
    "help_s": 0.3,
}


def _row(figure: str, value: str, target: str = "") -> str:
    return f"  {figure:<44} {value:>12}   {target}"


def _step_rows(label: str, figures: list[steps.StepFigures]) -> list[str]:
    rows = [f"\n{label}: one thread, K x `work` (~1 KB out), `ship` -> approval -> fresh process"]
    for f in figures:
        rows += [
            _row(f"K={f.k:<3} ms per step (mean of {f.k})", f"{f.ms_per_step:.3f}", "<= 0.5"),
            _row(
                "      ms per step, first 10% / last 10%",
                f"{f.ms_first_10pct:.3f} / {f.ms_last_10pct:.3f}",
            ),
            _row("      bytes per step", f"{f.bytes_per_step:,.0f}", "<= 2 KB, flat in K"),
            _row("      resume -> next model call, ms", f"{f.resume_ms:.2f}", "<= 2"),
            _row("        of which respond(), ms", f"{f.resume_respond_ms:.2f}"),
            _row("      context compactions during the run", f"{f.compactions}"),
        ]
    return rows


def _run_steps(url_for: Any) -> list[steps.StepFigures]:
    steps.measure(url_for("warmup"), 5)  # first-use costs (schemas, caches) out of the figures
    return [steps.measure(url_for(f"k{k}"), k) for k in KS]


def _commit() -> str:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    )
    return done.stdout.strip() or "unknown"


def _print_profile(url: str, k: int, n: int) -> None:
    loop_stats, db_stats = hotpath.profile(url, k)
    for label, stats in (("event-loop thread", loop_stats), ("database thread", db_stats)):
        if stats is None:
            print(f"\nprofile, {label}: not available")
            continue
        print(f"\nprofile, {label}: top {n} by cumulative time, per step (K={k}, cProfile)")
        print(f"  {'cum ms':>8} {'own ms':>8} {'calls':>7}  function")
        for r in hotpath.top(stats, k, n):
            print(
                f"  {r.cum_ms_per_step:8.3f} {r.own_ms_per_step:8.3f} {r.calls_per_step:7.1f}  {r.function}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--postgres", metavar="URL", help="also run the step figures on PostgreSQL")
    parser.add_argument("--profile", action="store_true", help="print where a step's time goes")
    args = parser.parse_args()
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    started = time.perf_counter()
    result: dict[str, Any] = {
        "commit": _commit(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
    }
    print(
        f"switchboard bench @ {result['commit']}, Python {result['python']}, SQLite {result['sqlite']}"
    )
    with tempfile.TemporaryDirectory(prefix="switchboard-bench-") as tmp:
        directory = Path(tmp)
        sqlite_steps = _run_steps(lambda name: fresh_sqlite(directory, name))
        print("\n".join(_step_rows("SQLite (WAL)", sqlite_steps)))
        result["sqlite_steps"] = {f"k{f.k}": f.as_json() for f in sqlite_steps}

        tp = throughput.measure(fresh_sqlite(directory, "throughput"))
        print(
            f"\nthroughput: {tp.threads} threads x ({tp.steps_per_thread} model calls, one approval), one event loop, SQLite"
        )
        print(_row("threads/s", f"{tp.threads_per_s:,.0f}", ">= 300"))
        print(_row("steps/s (model calls)", f"{tp.steps_per_s:,.0f}"))
        print(_row("wall clock, s", f"{tp.seconds:.2f}"))
        result["throughput"] = tp.as_json()

        c = cli.measure(fresh_sqlite(directory, "cli"), directory)
        print("\nCLI start (subprocess, wall clock)")
        print(_row("switchboard --help, median of 10, s", f"{c.help_s:.3f}", "< 0.3"))
        print(_row("switchboard threads (empty DB), median of 5, s", f"{c.threads_s:.3f}"))
        result["cli"] = c.as_json()

        if args.postgres:
            with fresh_postgres(args.postgres) as url:
                pg_steps = _run_steps(lambda _name: url)
            print("\n".join(_step_rows("PostgreSQL", pg_steps)))
            result["postgres_steps"] = {f"k{f.k}": f.as_json() for f in pg_steps}

        if args.profile:
            _print_profile(fresh_sqlite(directory, "profile"), 200, 15)

    result["litellm_imported"] = "litellm" in sys.modules
    result["seconds"] = round(time.perf_counter() - started, 1)
    print(f"\nlitellm imported: {result['litellm_imported']}; bench took {result['seconds']} s")
    result["targets"] = TARGETS
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
