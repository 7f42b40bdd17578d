"""A real IMAP server for the email channel's tests: Debian's Dovecot on 127.0.0.1.

`running_dovecot` starts `dovecot -F` in the foreground on a free loopback port with its own
configuration, users (a passwd file, plain passwords) and maildirs in a fresh temporary
directory, waits until it greets, and stops it at the end. Plain IMAP (no TLS) with LOGIN and
AUTHENTICATE PLAIN, IDLE, UIDPLUS; its log is `dovecot.log` there (`Dovecot.output()`)::

    with running_dovecot() as dovecot:
        uid = await dovecot.append(raw_rfc5322_bytes)   # another client's APPEND
        imap = aioimaplib.IMAP4(dovecot.host, dovecot.port)
        ...

The helpers speak IMAP through the standard library's imaplib, in a thread, so they depend on
nothing the code under test uses. `change_uidvalidity` gives a mailbox a new UIDVALIDITY with
`doveadm`, as a server whose index was rebuilt would: a session that has the mailbox selected is
told `* BYE IMAP session state is inconsistent, please relogin.` and disconnected at its next
command, or when the next message arrives if it idles; the next SELECT reports the new value.

Written for Dovecot 2.3 (Debian 12 ships 2.3.19); 2.4 renamed most of these settings.
Dovecot will not run mail or login processes as root: run as root, its processes run as
`nobody`, which is why the directory is its own under /tmp (pytest's are root's, mode 0700).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.policy
import grp
import imaplib
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any, TypeVar

from tests.server import free_port

DOVECOT = Path("/usr/sbin/dovecot")
DOVEADM = Path("/usr/bin/doveadm")
USER = "approvals@switchboard.test"
PASSWORD = "dovecot-double-password"
HOST = "127.0.0.1"
T = TypeVar("T")

_APPENDUID = re.compile(rb"\[APPENDUID (\d+) (\d+)\]")
_UID = re.compile(rb"\bUID (\d+)")
_FLAGS = re.compile(rb"\bFLAGS \(([^)]*)\)")
_STATUS = re.compile(rb"UIDVALIDITY (\d+)")


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A message in a mailbox: its UID, flags and raw RFC 5322 bytes."""

    uid: int
    flags: tuple[str, ...]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        """The message parsed with the modern policy. CRLFs become "\\n" first: the parser
        keeps line endings as it finds them, in headers' and bodies' text."""
        raw = self.raw.replace(b"\r\n", b"\n")
        parsed = BytesParser(policy=email.policy.default).parsebytes(raw)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass(frozen=True, slots=True)
class Dovecot:
    """A running Dovecot: where it listens, who may log in, and its files."""

    host: str
    port: int
    users: Mapping[str, str]
    directory: Path
    config: Path
    log: Path
    process: subprocess.Popen[bytes]

    @property
    def user(self) -> str:
        """The first user's login name."""
        return next(iter(self.users))

    @property
    def password(self) -> str:
        return self.users[self.user]

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    async def append(
        self,
        raw: bytes | EmailMessage,
        *,
        user: str | None = None,
        mailbox: str = "INBOX",
        flags: Sequence[str] = (),
    ) -> int:
        """APPEND `raw` to the mailbox as another client would; returns the new UID."""
        data = raw.as_bytes(policy=email.policy.SMTP) if isinstance(raw, EmailMessage) else raw
        marks = "(" + " ".join(flags) + ")" if flags else None

        def run(imap: imaplib.IMAP4) -> int:
            _, lines = _ok(imap.append(mailbox, marks, None, data))
            found = _APPENDUID.search(lines[-1] or b"")
            if found is None:
                raise RuntimeError(f"no APPENDUID in {lines!r}")
            return int(found.group(2))

        return await self._session(user, run)

    async def messages(
        self, *, user: str | None = None, mailbox: str = "INBOX"
    ) -> list[StoredMessage]:
        """Every message in the mailbox, by UID, read without setting \\Seen."""

        def run(imap: imaplib.IMAP4) -> list[StoredMessage]:
            _ok(imap.select(mailbox, readonly=True))
            _, data = _ok(imap.uid("SEARCH", "ALL"))
            if not data[0]:
                return []
            _, data = _ok(imap.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[])"))
            stored = []
            for item in data:
                if not isinstance(item, tuple):
                    continue  # the b")" that closes each FETCH response
                uid, flags = _UID.search(item[0]), _FLAGS.search(item[0])
                if uid is None or flags is None:
                    raise RuntimeError(f"unexpected FETCH response {item[0]!r}")
                stored.append(
                    StoredMessage(
                        int(uid.group(1)), tuple(flags.group(1).decode().split()), item[1]
                    )
                )
            return sorted(stored, key=lambda m: m.uid)

        return await self._session(user, run)

    async def uidvalidity(self, *, user: str | None = None, mailbox: str = "INBOX") -> int:
        def run(imap: imaplib.IMAP4) -> int:
            _, lines = _ok(imap.status(mailbox, "(UIDVALIDITY)"))
            found = _STATUS.search(lines[0] or b"")
            if found is None:
                raise RuntimeError(f"no UIDVALIDITY in {lines!r}")
            return int(found.group(1))

        return await self._session(user, run)

    async def change_uidvalidity(self, *, user: str | None = None, mailbox: str = "INBOX") -> int:
        """Give the mailbox a new UIDVALIDITY (the old one plus one); returns it. Its messages
        keep their UIDs, but a client must not trust any UID it kept from before."""
        new = await self.uidvalidity(user=user, mailbox=mailbox) + 1
        await self.doveadm(
            "mailbox", "update", "-u", user or self.user, "--uid-validity", str(new), mailbox
        )
        return new

    async def doveadm(self, *args: str) -> str:
        """Run `doveadm` against this server's configuration; returns what it printed."""
        process = await asyncio.create_subprocess_exec(
            str(DOVEADM),
            "-c",
            str(self.config),
            *args,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        out, err = await process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"doveadm {' '.join(args)} failed: {err.decode()}")
        return out.decode()

    async def _session(self, user: str | None, work: Callable[[imaplib.IMAP4], T]) -> T:
        """Log in as `user` (the first one unless given), do `work`, log out: in a thread, since
        imaplib blocks."""
        name = user or self.user

        def run() -> T:
            with imaplib.IMAP4(self.host, self.port, timeout=10) as imap:
                _ok(imap.login(name, self.users[name]))
                return work(imap)

        return await asyncio.to_thread(run)


def _ok(answer: tuple[str, list[Any]]) -> tuple[str, list[Any]]:
    status, lines = answer
    if status != "OK":
        raise RuntimeError(f"IMAP said {status}: {lines!r}")
    return answer


def dovecot_version() -> str:
    """What `dovecot --version` says, e.g. "2.3.19.1 (9b53102964)"."""
    return subprocess.run(
        [str(DOVECOT), "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()


@contextlib.contextmanager
def running_dovecot(
    users: Mapping[str, str] | None = None, *, idle: bool = True, within: float = 10.0
) -> Iterator[Dovecot]:
    """Start Dovecot with `users` (login name to password; one default user otherwise), wait
    until it greets on its port, and stop it, and every process it started, at the end.
    `idle=False`: a server that does not offer IDLE, before or after login."""
    users = dict(users or {USER: PASSWORD})
    version = dovecot_version()
    if not version.startswith("2.3."):
        raise RuntimeError(
            f"tests/doubles/dovecot.py writes a Dovecot 2.3 configuration: {version}"
        )
    with tempfile.TemporaryDirectory(prefix="dovecot-") as name:
        directory = Path(name)
        port = free_port()
        config = _configure(directory, users, port, idle)
        log = directory / "dovecot.log"
        with log.open("ab") as output:
            # Its own session, so that whatever Dovecot leaves behind can be ended as a group.
            process = subprocess.Popen(
                [str(DOVECOT), "-F", "-c", str(config)],
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        dovecot = Dovecot(HOST, port, users, directory, config, log, process)
        try:
            _wait_until_up(dovecot, within)
            yield dovecot
        finally:
            _stop(process)


def _configure(directory: Path, users: Mapping[str, str], port: int, idle: bool) -> Path:
    """Write the passwd file and dovecot.conf; returns the configuration's path."""
    account = pwd.getpwnam("nobody") if os.geteuid() == 0 else pwd.getpwuid(os.geteuid())
    passwd = directory / "passwd"
    passwd.write_text(
        "".join(f"{user}:{{PLAIN}}{password}::::::\n" for user, password in users.items())
    )
    (directory / "home").mkdir()
    for path in (directory, directory / "home", passwd):
        shutil.chown(path, account.pw_uid, account.pw_gid)
    config = directory / "dovecot.conf"
    config.write_text(
        CONFIG.format(
            directory=directory,
            host=HOST,
            port=port,
            user=account.pw_name,
            group=grp.getgrgid(account.pw_gid).gr_name,
            uid=account.pw_uid,
            gid=account.pw_gid,
        )
        + ("" if idle else WITHOUT_IDLE)
    )
    return config


# Everything under the temporary directory; every process as one unprivileged account; no
# chroot (it needs root); plain text passwords over plain IMAP, on loopback only.
CONFIG = """\
base_dir = {directory}/run
state_dir = {directory}/state
log_path = {directory}/dovecot.log
protocols = imap
listen = {host}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
first_valid_uid = 1
mail_location = maildir:~/Maildir
mail_fsync = never
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {directory}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {directory}/passwd
  default_fields = uid={uid} gid={gid} home={directory}/home/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = {host}
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""

# Dovecot's own capabilities less IDLE, named in full: the login process offers these too.
WITHOUT_IDLE = """\
protocol imap {
  imap_capability = IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE SORT THREAD=REFERENCES \
UIDPLUS LITERAL+ NAMESPACE UNSELECT CHILDREN
}
"""


def _wait_until_up(dovecot: Dovecot, within: float) -> None:
    """Connect until Dovecot greets, or its process dies."""
    deadline = time.monotonic() + within
    while True:
        if dovecot.process.poll() is not None:
            raise RuntimeError(
                f"dovecot exited with {dovecot.process.returncode}:\n{dovecot.output()}"
            )
        try:
            with imaplib.IMAP4(dovecot.host, dovecot.port, timeout=2):
                return
        except (OSError, imaplib.IMAP4.error):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"dovecot did not greet in {within}s:\n{dovecot.output()}")
        time.sleep(0.05)  # a poll interval, not a wait for something to happen


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM: the master stops its services and exits; then end its group, in case any
    process outlived it."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
