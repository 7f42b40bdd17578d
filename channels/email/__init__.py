"""The email channel: mail out over SMTP (aiosmtplib), mail in from an IMAP mailbox (aioimaplib),
read and written with the standard library's `email` package. Without SMTP_HOST, IMAP_HOST and
EMAIL_FROM it runs as its sandbox (sandbox.py): its own codec, writing and reading mail as they
would be, sending none."""

from __future__ import annotations

import hashlib

from channels.email.codec import EmailCodec
from channels.email.sandbox import MailSandbox, MailSimulator
from core.channels import Channel
from core.errors import Misconfigured
from core.settings import Settings

SANDBOX_SECRET = b"the sandbox's tokens: it sends no mail"


def email(settings: Settings) -> Channel:
    public_url = settings.switchboard_public_url
    sender = settings.email_from or "agents@switchboard.example"
    if not (settings.smtp_host and settings.imap_host and settings.email_from):
        codec = EmailCodec(sender, SANDBOX_SECRET, public_url)
        return Channel(codec, MailSandbox(), simulator=MailSimulator(codec))
    if settings.imap_username is None or settings.imap_password is None:
        raise Misconfigured("email: set IMAP_USERNAME and IMAP_PASSWORD for the mailbox to read")
    if settings.imap_security == "starttls":
        raise Misconfigured(
            "email: IMAP_SECURITY=starttls is not supported: use tls (port 993) or none"
        )
    from channels.email.mailbox import MailboxListener
    from channels.email.transport import SmtpTransport

    password = settings.imap_password.get_secret_value()
    # The tokens' key: EMAIL_TOKEN_SECRET, or one drawn from the mailbox's password (changing the
    # password then voids the tokens of requests already sent: their replies decide nothing).
    secret = (
        settings.email_token_secret.get_secret_value().encode()
        if settings.email_token_secret
        else hashlib.sha256(b"switchboard email tokens\n" + password.encode()).digest()
    )
    codec = EmailCodec(
        settings.email_from, secret, public_url, settings.email_trusted_authserv_id or None
    )
    transport = SmtpTransport(
        settings.smtp_host,
        settings.smtp_port,
        settings.smtp_security,
        settings.smtp_username,
        settings.smtp_password.get_secret_value() if settings.smtp_password else None,
    )
    listener = MailboxListener(
        codec.read,
        settings.imap_host,
        settings.imap_port,
        settings.imap_security,
        settings.imap_username,
        password,
        settings.imap_mailbox,
    )
    return Channel(codec, transport, listener=listener, check=transport.check)
