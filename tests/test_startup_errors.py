"""A DATABASE_URL that cannot work ends `serve`, `worker` and the CLI in one line naming it and the
fix, with no traceback; and the database password is never printed (issue 14, item 5)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from core.errors import Misconfigured
from core.settings import Settings, mask_url
from storage import backend
from storage.errors import connection_problem
from tests.fixtures import empty_postgres
from tests.server import TOKEN, environment, free_port, running_server

pytestmark = pytest.mark.slow
# Every command meets each kind of failure (the URL, the connection, the SQLite file, the
# PostgreSQL database) through the one start-up path; the other variants of a kind, one command each.
COMMANDS = (("serve",), ("worker",), ("threads",), ("db", "upgrade"))
SERVE, WORKER, CLI, UPGRADE = ((c,) for c in COMMANDS)
PASSWORD = "s3cret-Passw0rd"
SUPPORTED = "sqlite:///path/to/switchboard.db or postgresql://"


def with_password(url: str) -> str:
    """`url` with PASSWORD in it: the test server trusts every connection, so it is ignored."""
    return make_url(url).set(password=PASSWORD).render_as_string(hide_password=False)


def run_all(
    directory: Path, database_url: str, commands: tuple[tuple[str, ...], ...] = COMMANDS
) -> dict[str, subprocess.CompletedProcess[str]]:
    """The start-up commands at once, each with `database_url`: what each printed and exited."""
    env = environment(directory, free_port(), TOKEN)
    env["DATABASE_URL"] = database_url
    started = {
        " ".join(command): subprocess.Popen(
            [sys.executable, "-m", "core", *command],
            cwd=directory,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for command in commands
    }
    done = {}
    for name, process in started.items():
        try:
            out, err = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
        done[name] = subprocess.CompletedProcess(process.args, process.returncode, out, err)
    return done


def assert_one_line(
    done: dict[str, subprocess.CompletedProcess[str]], *says: str, hidden: str = PASSWORD
) -> None:
    for name, result in done.items():
        shown = f"`{name}` exited {result.returncode}:\n{result.stdout}{result.stderr}"
        assert result.returncode not in (0, None), shown
        assert "Traceback" not in result.stdout + result.stderr, shown
        lines = result.stderr.strip().splitlines()
        assert 1 <= len(lines) <= 2, shown
        assert "DATABASE_URL" in lines[0], shown
        for words in says:
            assert words in result.stderr, shown
        assert hidden not in result.stdout + result.stderr, shown


def test_an_unsupported_scheme(tmp_path: Path) -> None:
    done = run_all(tmp_path, f"mysql://root:{PASSWORD}@127.0.0.1:3306/switchboard")
    assert_one_line(done, "mysql:// is not supported", SUPPORTED, "root:***@")


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("not a url", '"not a url" is not a database URL'),
        ("", "DATABASE_URL is empty"),
        (f"postgresql://postgres:{PASSWORD}@127.0.0.1:port/test", "the port is not a number"),
    ],
)
def test_a_malformed_url(tmp_path: Path, url: str, says: str) -> None:
    assert_one_line(run_all(tmp_path, url, WORKER), says, SUPPORTED)


def test_a_closed_port(tmp_path: Path) -> None:
    done = run_all(tmp_path, f"postgresql://postgres:{PASSWORD}@127.0.0.1:1/test")
    assert_one_line(
        done,
        "nothing accepts connections at 127.0.0.1:1;",
        "start PostgreSQL there, or correct the host and port in DATABASE_URL",
        "postgres:***@",
    )


def test_an_unknown_host(tmp_path: Path) -> None:
    done = run_all(tmp_path, "postgresql://postgres@switchboard-db.invalid/test", SERVE)
    assert_one_line(
        done, "the host switchboard-db.invalid is not known", "correct the host in DATABASE_URL"
    )


def test_an_sqlite_file_in_a_directory_that_does_not_exist(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such"
    done = run_all(tmp_path, f"sqlite:///{missing}/switchboard.db")
    assert_one_line(done, f"the directory {missing} does not exist", f"mkdir -p {missing}")


def test_an_sqlite_file_under_a_file(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("not a directory")
    done = run_all(tmp_path, f"sqlite:///{tmp_path / 'plain'}/switchboard.db", CLI)
    assert_one_line(done, f"{tmp_path / 'plain'} is not a directory")


def test_an_sqlite_url_naming_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    (tmp_path / "notes.db").write_text("some notes, not SQLite\n" * 20)
    done = run_all(tmp_path, f"sqlite:///{tmp_path / 'notes.db'}", UPGRADE)
    assert_one_line(done, f"{tmp_path / 'notes.db'} is not an SQLite database")


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes in any directory"
)
def test_an_sqlite_file_in_a_directory_that_is_not_writable(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        done = run_all(tmp_path, f"sqlite:///{locked}/switchboard.db")
    finally:
        locked.chmod(0o700)
    assert_one_line(done, "is not writable", "DATABASE_URL at a writable directory")


@pytest.mark.postgres
def test_a_postgres_database_that_does_not_exist(tmp_path: Path) -> None:
    with empty_postgres() as url:  # skips, saying why, when PostgreSQL is unreachable
        missing = with_password(url.rsplit("/", 1)[0] + "/switchboard_missing")
    done = run_all(tmp_path, missing)
    assert_one_line(
        done,
        'the database "switchboard_missing" does not exist',
        "`createdb switchboard_missing`",
        ":***@",
    )


@pytest.mark.postgres
def test_a_postgres_user_that_does_not_exist(tmp_path: Path) -> None:
    with empty_postgres() as url:
        stranger = make_url(with_password(url)).set(username="switchboard_nobody")
    done = run_all(tmp_path, stranger.render_as_string(hide_password=False), WORKER)
    assert_one_line(
        done,
        'the user "switchboard_nobody" does not exist',
        "correct the user in DATABASE_URL",
        "switchboard_nobody:***@",
    )


def refused_with(said: str) -> Misconfigured | None:
    """libpq's words for a refused connection, as psycopg raises them on a connection of its own
    and as SQLAlchemy wraps them: each the same Misconfigured."""
    url = f"postgresql://switchboard:{PASSWORD}@db.example:5433/switchboard"
    raw = psycopg.OperationalError(f"connection failed: {said}")
    found = connection_problem(raw, url)
    wrapped = connection_problem(OperationalError("SELECT 1", {}, raw), url)
    assert str(found) == str(wrapped)
    return found


def test_a_wrong_password() -> None:
    """The test server trusts every connection, so libpq's refusal is made here."""
    found = refused_with(
        'connection to server at "10.0.0.5", port 5433 failed: FATAL:  password authentication'
        ' failed for user "switchboard"'
    )
    assert found is not None
    assert found.detail == (
        "DATABASE_URL postgresql://switchboard:***@db.example:5433/switchboard: authentication"
        ' failed for the user "switchboard" on db.example:5433; correct the user and password in'
        " DATABASE_URL"
    )


def test_errors_of_a_statement_are_not_start_up_errors(tmp_path: Path) -> None:
    deadlock = psycopg.errors.DeadlockDetected("deadlock detected")
    assert connection_problem(deadlock, "postgresql://h/db") is None
    assert backend.is_current(f"sqlite:///{tmp_path / 'new.db'}") is False  # a new file: fine


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"postgresql://u:{PASSWORD}@h:5432/db", "postgresql://u:***@h:5432/db"),
        (f"postgres://u:{PASSWORD}@h/db?sslmode=require", "postgres://u:***@h/db?sslmode=require"),
        ("postgresql://u:p@ss@h/db", "postgresql://u:***@h/db"),  # an unescaped @ hides it all
        (f"postgresql://h/db?user=u&password={PASSWORD}", "postgresql://h/db?user=u&password=***"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("sqlite:///./switchboard.db", "sqlite:///./switchboard.db"),
        ("not a url", "not a url"),
    ],
)
def test_mask_url(url: str, shown: str) -> None:
    assert mask_url(url) == shown


def test_the_password_is_among_the_secrets_the_logs_redact() -> None:
    settings = Settings(database_url=f"postgresql://u:{PASSWORD}@h/db")
    assert PASSWORD in settings.secrets(environ={})


@pytest.mark.postgres
def test_serve_and_worker_show_the_database_without_its_password(tmp_path: Path) -> None:
    with empty_postgres() as url:
        secret = with_password(url)
        # Before any migration: the one line that says so masks it too.
        done = run_all(tmp_path, secret, CLI)["threads"]
        assert done.returncode == 1 and "not at the current schema" in done.stderr
        assert ":***@" in done.stderr and PASSWORD not in done.stderr
        with running_server(tmp_path, database_url=secret) as server:
            banner = server.output()
            assert f"database {mask_url(secret)}" in banner, banner
            worker_log = tmp_path / "worker.log"
            with worker_log.open("ab") as log:
                worker = subprocess.Popen(
                    [sys.executable, "-m", "core", "worker"],
                    cwd=tmp_path,
                    env=environment(tmp_path, free_port(), TOKEN, secret),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
                try:
                    deadline = time.monotonic() + 60
                    while "Switchboard worker" not in worker_log.read_text():
                        assert worker.poll() is None, worker_log.read_text()
                        assert time.monotonic() < deadline, worker_log.read_text()
                        time.sleep(0.1)
                finally:
                    worker.terminate()
                    worker.wait(timeout=15)
            said = worker_log.read_text()
            assert f"on {mask_url(secret)}" in said and ":***@" in said
            assert PASSWORD not in said and PASSWORD not in server.output()
