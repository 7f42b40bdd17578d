"""`python -m bench`: print the platform's own costs as a table, then one JSON line to diff.

`python -m bench server` runs only the server benches (a real server loaded over HTTP).
`python -m bench email` runs only the email channel's (a real server, Dovecot and SMTP on loopback).
`python -m bench outside` runs only an outside agent's (a real server, its callback receiver).
"""

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
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import cli, hotpath, outside, server, steps, throughput
from bench import email as mail
from bench.databases import fresh_postgres, fresh_sqlite

KS = (10, 50, 200)
PROFILE_K = 200
TARGETS = {
    "ms_per_step": 0.5,
    "bytes_per_step": 2048,
    "resume_ms": 2.0,
    "threads_per_s": 300,
    "help_s": 0.3,
    **server.TARGETS,
}


def _row(figure: str, value: str, target: str = "") -> str:
    return f"  {figure:<50} {value:>15}   {target}"


def _step_rows(label: str, figures: list[steps.StepFigures]) -> list[str]:
    rows = [
        f"\n{label}: one thread, K x `work` (~1 KB out), then `ship` -> approval -> resumed in a"
        " fresh process (a twin thread first warms the store and has its bytes measured)"
    ]
    for f in figures:
        first_last = f"{f.ms_first_10pct:.3f} / {f.ms_last_10pct:.3f}"
        rows += [
            _row(f"K={f.k:<3} ms per step (mean of {f.k})", f"{f.ms_per_step:.3f}", "<= 0.5"),
            _row("      ms per step, median", f"{f.ms_median:.3f}"),
            _row("      ms per step, first 10% / last 10%", first_last),
            _row("      bytes per step", f"{f.bytes_per_step:,.0f}", "<= 2 KB, flat in K"),
            _row(
                "      resume -> next model call, fresh process, ms", f"{f.resume_ms:.2f}", "<= 2"
            ),
            _row(
                "        respond() before it (record the approval), ms",
                f"{f.resume_respond_ms:.2f}",
            ),
            _row("      resume, warm worker (same process), ms", f"{f.resume_warm_ms:.2f}", "<= 2"),
            _row("        respond() before it, warm worker, ms", f"{f.respond_warm_ms:.2f}"),
            _row("      context compactions during the run", f"{f.compactions}"),
        ]
        if f.bytes_per_step_by_table:
            parts = ", ".join(f"{t} {b:,.0f}" for t, b in f.bytes_per_step_by_table.items())
            rows.append(f"        bytes per step by table: {parts}")
    return rows


def _steps(label: str, url_for: Callable[[str], str]) -> dict[str, Any]:
    figures = [steps.measure(url_for(f"k{k}"), k) for k in KS]
    print("\n".join(_step_rows(label, figures)))
    return {f"k{f.k}": f.as_json() for f in figures}


def _throughput(url: str) -> dict[str, Any]:
    tp = throughput.measure(url)
    print(
        f"\nthroughput: {tp.threads} threads x ({tp.steps_per_thread} model calls, one approval),"
        " all at once on one event loop, SQLite"
    )
    print(_row("threads/s", f"{tp.threads_per_s:,.0f}", ">= 300"))
    print(_row("steps/s (model calls)", f"{tp.steps_per_s:,.0f}"))
    print(_row("wall clock, s", f"{tp.seconds:.2f}"))
    return tp.as_json()


def _cli(url: str, cwd: Path) -> dict[str, Any]:
    c = cli.measure(url, cwd)
    print("\nCLI start (a subprocess, wall clock)")
    print(_row("switchboard --help, median of 10, s", f"{c.help_s:.3f}", "< 0.3"))
    print(_row("switchboard threads (empty DB), median of 5, s", f"{c.threads_s:.3f}"))
    return c.as_json()


def _server(label: str, directory: Path, database: server.Database) -> dict[str, Any]:
    figures = server.measure(directory, database)
    print("\n".join(server.rows(label, figures)))
    return figures.as_json()


def _email(directory: Path) -> dict[str, Any]:
    figures = mail.measure(directory)
    print("\n".join(mail.rows(figures)))
    return figures.as_json()


def _outside(directory: Path) -> dict[str, Any]:
    figures = outside.measure(directory)
    print("\n".join(outside.rows(figures)))
    return figures.as_json()


def _profile(url: str, n: int = 15) -> None:
    loop_stats, db_stats = hotpath.profile(url, PROFILE_K)
    for label, stats in (("event-loop thread", loop_stats), ("database thread", db_stats)):
        if stats is None:
            print(f"\nprofile, {label}: not available")
            continue
        idle = hotpath.idle_ms_per_step(stats, PROFILE_K)
        print(
            f"\nprofile, {label}: top {n} by cumulative time, ms per step (K={PROFILE_K}, cProfile"
            f" inflates them; idle, waiting for the other thread: {idle:.3f} ms per step)"
        )
        print(f"  {'cum ms':>8} {'own ms':>8} {'calls':>7}  function")
        for r in hotpath.top(stats, PROFILE_K, n):
            print(
                f"  {r.cum_ms_per_step:8.3f} {r.own_ms_per_step:8.3f} {r.calls_per_step:7.1f}"
                f"  {r.function}"
            )


def _header() -> dict[str, Any]:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    )
    header = {
        "commit": done.stdout.strip() or "unknown",
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "cpus": os.cpu_count(),
        "load_average": round(os.getloadavg()[0], 2),
    }
    print(
        f"switchboard bench @ {header['commit']}: Python {header['python']}, SQLite"
        f" {header['sqlite']}, {header['cpus']} CPUs, load average {header['load_average']}"
        " (other processes on the machine move these figures)"
    )
    return header


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "only",
        nargs="?",
        choices=["server", "email", "outside"],
        help="run only these benches (default: all)",
    )
    parser.add_argument(
        "--postgres", metavar="URL", help="also run the step and server figures on PostgreSQL"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="print where a step's time goes, and the server's (with py-spy, when installed)",
    )
    args = parser.parse_args()
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    started = time.perf_counter()
    result = _header()
    with tempfile.TemporaryDirectory(prefix="switchboard-bench-") as tmp:
        directory = Path(tmp)
        everything = args.only is None
        if everything:
            result["sqlite_steps"] = _steps(
                "SQLite (WAL)", lambda name: fresh_sqlite(directory, name)
            )
            result["throughput"] = _throughput(fresh_sqlite(directory, "throughput"))
            result["cli"] = _cli(fresh_sqlite(directory, "cli"), directory)
        servers = everything or args.only == "server"
        if servers:
            result["sqlite_server"] = _server("SQLite", directory, server.sqlite(directory))
        if args.postgres and servers:
            if everything:
                with fresh_postgres(args.postgres) as url:
                    result["postgres_steps"] = _steps(
                        "PostgreSQL (table sizes move in 8 KB pages: coarse at small K)",
                        lambda _name: url,
                    )
            result["postgres_server"] = _server(
                "PostgreSQL", directory, server.postgres(args.postgres)
            )
        if everything or args.only == "email":
            result["email"] = _email(directory)
        if everything or args.only == "outside":
            result["outside"] = _outside(directory)
        if args.profile and servers:
            if everything:
                _profile(fresh_sqlite(directory, "profile"))
            server.profile(directory)
    result["litellm_imported"] = "litellm" in sys.modules
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["targets"] = TARGETS
    print(f"\nlitellm imported: {result['litellm_imported']}; the bench took {result['seconds']} s")
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
