"""Reading incoming mail (channels/email/mail.py): mails as real clients write them (tests/mail/)
read into who wrote, the thread, the text, exactly the new part of a reply and its deciding line,
mail from machines, bounces, attachments, and whether the receiving server vouched for the
sender. `read` raises NotMail and nothing else, whatever the bytes."""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime, timedelta, timezone
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.email.codec import EmailCodec
from channels.email.mail import Mail, NotMail, authenticated, plus_token, read
from channels.email.mail_bounce import Failure
from channels.email.mail_text import (
    RULE,
    decode_bytes,
    first_line,
    html_text,
    new_text,
    unflow,
)
from core.channels import Attachment, InboundMessage, Malformed

MAIL = Path(__file__).parent / "mail"
REQUEST_ID = "<req-417.a1b2c3@switchboard.example.com>"


def mail(name: str) -> Mail:
    return read((MAIL / f"{name}.eml").read_bytes())


def html_part(name: str) -> str:
    """The fixture's HTML alternative, decoded: its reply must read the same as the text."""
    message = message_from_bytes((MAIL / f"{name}.eml").read_bytes(), policy=default)
    assert isinstance(message, EmailMessage)
    body = message.get_body(preferencelist=("html",))
    assert body is not None
    content = body.get_content()
    assert isinstance(content, str)
    return content


def raw(*headers: str, body: str = "APPROVE\r\n") -> bytes:
    lines = ["From: Dana <dana@example.com>", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode("utf-8")


# Replies: exactly the new text, whichever client wrote them

REPLIES = {
    "gmail_reply": "APPROVE\n\nGo ahead once the 14:00 backup has finished.",
    "gmail_de_attachment": (
        "REJECT Bitte erst nach dem Freeze, also ab Montag. Die Checkliste hänge ich an."
    ),
    "outlook_en": "REJECT the change freeze starts today, please ask again on Monday.",
    "outlook_de": "REJECT Bitte erst nach dem Freeze, also ab Montag für alle Regionen.",
    "apple_iphone": "Approve \N{THUMBS UP SIGN}",
    "apple_iphone_de": "Ja, freigegeben.\nAPPROVE",
    "thunderbird_qp": (
        "REJECT Die Datenbank-Migration ist noch nicht getestet \N{GRIMACING FACE}, bitte erst "
        "nach dem Test auf Staging am Dienstag."
    ),
    "base64_utf8": "APPROVE \N{WHITE HEAVY CHECK MARK}\N{ROCKET}\n\nLooks good to me — ship it.",
    "iso2022jp": "APPROVE\nよろしくお願いします。\n\n山田",
    "forged_auth": "APPROVE",
    "html_only": (
        "Hi Switchboard,\n\n"
        "APPROVE \N{EN DASH} but only these two:\n\n"
        "1. api 2.4.1 in eu-west\n"
        "2. the worker\N{RIGHT SINGLE QUOTATION MARK}s config (see the runbook (https://wiki.example.com/runbooks/deploy))\n"
        "- cost: 120 €\n"
        "- contact: dana@example.com\n\n"
        "Line one\nLine two\n\n"
        "Dana"
    ),
}


@pytest.mark.parametrize(("name", "expected"), REPLIES.items())
def test_a_reply_is_read_as_exactly_its_new_text(name: str, expected: str) -> None:
    assert mail(name).reply == expected


@pytest.mark.parametrize(
    "name", ["gmail_reply", "gmail_de_attachment", "outlook_en", "outlook_de", "apple_iphone"]
)
def test_the_html_alternative_gives_the_same_new_text(name: str) -> None:
    assert new_text(html_text(html_part(name))) == REPLIES[name]


@pytest.mark.parametrize(
    ("name", "line"),
    [
        ("gmail_reply", "APPROVE"),
        ("outlook_en", "REJECT the change freeze starts today, please ask again on Monday."),
        ("outlook_de", "REJECT Bitte erst nach dem Freeze, also ab Montag für alle Regionen."),
        ("apple_iphone", "Approve \N{THUMBS UP SIGN}"),
        ("apple_iphone_de", "Ja, freigegeben."),
        ("html_only", "APPROVE \N{EN DASH} but only these two:"),  # after the greeting
    ],
)
def test_the_first_line_decides(name: str, line: str) -> None:
    assert first_line(mail(name).reply) == line


@pytest.mark.parametrize(
    ("reply", "line"),
    [
        ("Hi,\nAPPROVE", "APPROVE"),
        ("Hallo!\n\nREJECT zu riskant", "REJECT zu riskant"),
        ("Hi Switchboard,\n\nREJECT too risky", "REJECT too risky"),
        ("Sehr geehrte Damen und Herren,\nAPPROVE", "APPROVE"),
        ("Bonjour,\n2", "2"),
        ("Hi, approve", "Hi, approve"),  # more than a greeting on the line: kept whole
        ("Hey approve it", "Hey approve it"),  # words after a greeting without a comma
        ("Hi", "Hi"),  # nothing follows: it is all there is
        ("\ufeff \n\u200bAPPROVE 417\n", "APPROVE 417"),  # invisible characters around
        ("\n\n  \n", ""),
        ("", ""),
    ],
)
def test_a_greeting_is_skipped_only_when_it_is_clearly_one(reply: str, line: str) -> None:
    assert first_line(reply) == line


GMAIL_ATTRIBUTION = "On Mon, 30 Nov 2026 at 09:12, Switchboard <agents@example.com> wrote:"
OUTLOOK_BLOCK = (
    "From: Switchboard <agents@example.com>\nSent: Monday, November 30, 2026 9:12 AM\n"
    "To: Dana Smith <dana@contoso.com>\nSubject: Approve deploy of api 2.4.1?\n"
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Nothing written above the history: nothing new (the library returns the history).
        (f"{GMAIL_ATTRIBUTION}\n> Deploy api 2.4.1 to production?\n", ""),
        (f"{OUTLOOK_BLOCK}\nDeploy api 2.4.1 to production?\n", ""),
        ("Von meinem iPhone gesendet\n\n> Am 30.11.2026 um 10:12 schrieb S <a@b.c>:\n> x\n", ""),
        # Written below the quote, whose sign-off the library would take the answer with.
        (
            f"{GMAIL_ATTRIBUTION}\n> Deploy?\n> Thanks,\n> Switchboard\n\nAPPROVE\n\n-- \nDana\n",
            "APPROVE",
        ),
        # Quoted without an attribution, answered between the quotes.
        ("> Deploy api 2.4.1?\nyes, APPROVE\n> Reply APPROVE or REJECT\n", "yes, APPROVE"),
        # A reason the library's disclaimer removal would delete.
        (
            "REJECT\nWarning: the mail queue is full until Friday.",
            "REJECT\nWarning: the mail queue is full until Friday.",
        ),
        (
            "REJECT. Achtung: erst nach dem Mail-Versand",
            "REJECT. Achtung: erst nach dem Mail-Versand",
        ),
        # A list the library would take for a signature.
        ("REJECT\n- too risky\n- no rollback plan", "REJECT\n- too risky\n- no rollback plan"),
        # Sign-offs the library misses.
        (
            "APPROVE\n\nEnvoyé de mon iPhone\n\n> Le 30 nov. 2026 à 10:12, S <a@b.c> a écrit :\n> x",
            "APPROVE",
        ),
        (f"APPROVE\n\nSent from Mail for Windows\n\n{OUTLOOK_BLOCK}", "APPROVE"),
        (f"APPROVE\n\n{RULE}\n", "APPROVE"),
        # Shapes the library knows.
        (f"APPROVE\n\n-----Original Message-----\n{OUTLOOK_BLOCK}\nDeploy?\n", "APPROVE"),
        (
            "D'accord.\n\nLe lun. 30 nov. 2026 à 09:12, S <a@b.c> a écrit :\n> Deploy?\n",
            "D'accord.",
        ),
        ("APPROVE\n\nBest regards,\nDana Smith\nPlatform team\n", "APPROVE"),
        ("APPROVE\n\nMit freundlichen Grüßen\nJonas Weber\n", "APPROVE"),
        ("", ""),
    ],
)
def test_new_text_on_top_of_the_library(text: str, expected: str) -> None:
    assert new_text(text) == expected


def test_a_long_line_comes_back_whole() -> None:
    """Lines too long to be an attribution go past the library as placeholders."""
    long = "REJECT " + "because " * 200
    assert new_text(f"{long}\n\n{GMAIL_ATTRIBUTION}\n> Deploy?\n") == long.strip()


def test_texts_that_took_the_library_minutes_take_moments() -> None:
    texts = [
        "On " + "a " * 50_000,  # one line: 270 s before
        "a" + "\n" * 100_000 + "b",  # a run of blank lines: 20 minutes before
        ("Am " + "schrieb " * 24 + "\n") * 600,
        ("On " + "a " * 98 + "\n") * 600,
    ]
    started = time.monotonic()
    assert [len(new_text(text)) > 0 for text in texts] == [True, True, True, True]
    assert time.monotonic() - started < 10  # well under a second each here


# Headers


def test_a_gmail_reply_is_threaded_and_addressed() -> None:
    m = mail("gmail_reply")
    assert m.message_id == "<CAKx9f3Vq1pZ7=Yt2mQ8xH4bN6rL0sW5eJ3cU9dA1gF7hK2iP4Q@mail.gmail.com>"
    assert (m.in_reply_to, m.references) == (REQUEST_ID, (REQUEST_ID,))
    assert m.subject == "Re: Approve deploy of api 2.4.1?"
    assert (m.from_address, m.from_name) == ("dana.smith@gmail.com", "Dana Smith")
    assert m.to == ("agents+tok123@example.com",)
    assert m.date == datetime(2026, 11, 30, 9, 13, 51, tzinfo=UTC)
    assert m.return_path == "dana.smith@gmail.com"
    assert m.delivered_to == ("agents+tok123@example.com",)
    assert plus_token(m.delivered_to[0], "agents") == "tok123"
    assert (m.automatic, m.bounce, m.attachments) == (None, None, ())


def test_ids_are_normalised() -> None:
    m = read(
        raw(
            "Message-ID:\r\n <CAKx9f3V\r\n q1pZ7@mail.gmail.com>",
            "In-Reply-To: <a@x> (Dana's message of Mon, 30 Nov)",
            "References: <a@x>\r\n\t<b@x> <c@x>",
        )
    )
    assert (m.message_id, m.in_reply_to) == ("<CAKx9f3Vq1pZ7@mail.gmail.com>", "<a@x>")
    assert m.references == ("<a@x>", "<b@x>", "<c@x>")
    bare = read(raw("Message-ID: 1795951234.8c2f@mail.example.in"))
    assert bare.message_id == "<1795951234.8c2f@mail.example.in>"
    assert read(raw()).message_id is None


def test_addresses_keep_their_local_part_and_lower_their_domain() -> None:
    m = mail("gmail_de_attachment")
    assert m.cc == ("dana.smith@gmail.com", "ops@fabrikam.de")
    assert mail("html_only").from_name == "Smith, Dana"
    assert mail("base64_utf8").from_address == "priya@example.in"


@pytest.mark.parametrize(
    ("address", "token"),
    [
        ("agents+tok123@example.com", "tok123"),
        ("Agents+Tok123@Example.com", "Tok123"),
        ("<agents+tok123@example.com>", "tok123"),
        ("agents+a+b@example.com", "a+b"),
        ("agents@example.com", None),
        ("agents+@example.com", None),
        ("other+tok123@example.com", None),
        ("agentsx+tok123@example.com", None),
        ("agents+tok123", None),
    ],
)
def test_plus_token(address: str, token: str | None) -> None:
    assert plus_token(address, "agents") == token


def test_dates_are_aware() -> None:
    assert mail("thunderbird_qp").date == datetime(
        2026, 11, 30, 10, 44, 9, tzinfo=timezone(timedelta(hours=1))
    )
    assert read(raw("Date: Mon, 30 Nov 2026 09:12:00 -0000")).date == datetime(
        2026, 11, 30, 9, 12, tzinfo=UTC
    )
    assert read(raw("Date: yesterday-ish")).date is None


# Charsets and encodings


def test_encoded_words_and_quoted_printable_utf8() -> None:
    m = mail("thunderbird_qp")
    assert m.subject == "Re: Freigabe für api 2.4.1 \N{ROCKET}"
    assert m.from_name == "Jürgen Müller"
    # format=flowed: the soft line break is joined
    assert m.text.startswith(
        "REJECT Die Datenbank-Migration ist noch nicht getestet \N{GRIMACING FACE}, bitte erst "
        "nach dem Test auf Staging am Dienstag.\n\nAm 30.11.26 um 10:12 schrieb Switchboard:\n"
    )


def test_base64_utf8_with_emoji() -> None:
    m = mail("base64_utf8")
    assert m.subject == "Re: Approve deploy of api 2.4.1? \N{WHITE HEAVY CHECK MARK}"
    assert m.from_name == "Priya Raman \N{CHERRY BLOSSOM}"
    assert m.text.startswith("APPROVE \N{WHITE HEAVY CHECK MARK}\N{ROCKET}\n")


def test_legacy_charsets() -> None:
    jp = mail("iso2022jp")
    assert (jp.subject, jp.from_name) == ("Re: 承認", "山田 太郎")
    assert jp.text == "APPROVE\nよろしくお願いします。\n\n山田\n"
    assert "Viele Grüße\nJonas Weber" in mail("outlook_de").text  # iso-8859-1
    assert "120 €" in mail("html_only").text  # windows-1252, 8bit


def test_raw_8bit_headers_are_read_as_utf8_else_windows_1252() -> None:
    utf8 = read("From: Jürgen <j@example.de>\r\nSubject: Grüße\r\n\r\nx".encode())
    assert (utf8.subject, utf8.from_name) == ("Grüße", "Jürgen")
    latin = read("From: j@example.de\r\nSubject: Grüße\r\n\r\nx".encode("cp1252"))
    assert latin.subject == "Grüße"


@pytest.mark.parametrize(
    ("data", "charset", "text"),
    [
        ("Grüße".encode(), None, "Grüße"),
        ("Grüße".encode(), "us-ascii", "Grüße"),  # declared ASCII, sent as UTF-8
        ("Grüße €".encode("cp1252"), None, "Grüße €"),
        (b"\x80 50", "iso-8859-1", "€ 50"),  # read as windows-1252, as browsers do
        ("Grüße".encode(), "x-no-such-charset", "Grüße"),
        ("Grüße".encode(), "base64", "Grüße"),  # a codec, but not for text
        ("Grüße".encode(), "idna", "Grüße"),  # a text codec that refuses to replace
        ("Grüße".encode(), "utf\x008", "Grüße"),
        (b"ok \xff\xfe", "utf-8", "ok \ufffd\ufffd"),  # a broken charset: replaced
    ],
)
def test_decode_bytes_never_raises(data: bytes, charset: str | None, text: str) -> None:
    assert decode_bytes(data, charset) == text


def test_a_broken_body_is_replaced_not_raised() -> None:
    head = raw("Content-Type: text/plain; charset=utf-8", body="")
    assert read(head + b"APPROVE \xff\r\n").reply == "APPROVE \ufffd"
    broken_base64 = raw("Content-Transfer-Encoding: base64", body="QVBQUk9WRQ=!*\r\n")
    assert read(broken_base64).reply == "APPROVE"


def test_unflow() -> None:
    flowed = "a long \nline\n> quoted \n> more\n>> deeper \n>> too\n \nstuffed\n-- \nsig"
    assert unflow(flowed, delsp=False) == (
        "a long line\n> quoted more\n>> deeper too\n\nstuffed\n-- \nsig"
    )
    assert unflow("ab \ncd", delsp=True) == "abcd"


# HTML


def test_an_html_only_mail_is_read_as_text() -> None:
    assert mail("html_only").text == (
        REPLIES["html_only"].replace("\n\nDana", "\n\nDana\n\n> Deploy api 2.4.1 to production?")
    )


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ('<a href="https://x.example/a">the runbook</a>', "the runbook (https://x.example/a)"),
        ('<a href="https://x.example/a/">x.example/a</a>', "x.example/a"),
        ('<a href="mailto:dana@example.com?subject=Hi">dana@example.com</a>', "dana@example.com"),
        ('<a href="mailto:dana@example.com">Dana</a>', "Dana (dana@example.com)"),
        ('<a href="#top">top</a> <a href="javascript:x()">go</a>', "top go"),
        (
            '<a href="https://x.example/"><img alt="Logo" src="cid:1"></a>',
            "Logo (https://x.example/)",
        ),
        ('<a href="https://x.example/"></a>', "https://x.example/"),
        ("<div>one</div><div><br></div><div>two</div>", "one\n\ntwo"),
        ("<div>one<br></div><div>two</div>", "one\ntwo"),
        ("<p>one</p><p>two</p>", "one\n\ntwo"),
        ('<p class="MsoNormal">one</p><p class="MsoNormal">two</p>', "one\ntwo"),
        (
            "<ol start=3><li>c<ul><li>x</li><li>y</li></ul></li><li>d</li></ol>",
            "3. c\n   - x\n   - y\n4. d",
        ),
        ("<blockquote>q<blockquote>qq</blockquote></blockquote>after", "> q\n> > qq\nafter"),
        ("<pre>  a\n    b</pre>", "  a\n    b"),
        (
            "<table><tr><td>Service</td><td>api</td></tr><tr><td>Version</td><td>2.4.1</td></tr></table>",
            "Service api\nVersion 2.4.1",
        ),
        ("a<hr>b", f"a\n{RULE}\nb"),
        ("<head><title>t</title><style>p{}</style></head><script>x</script>shown", "shown"),
        ('<div style="display: none">hidden</div>shown', "shown"),
        ("<!-- a comment -->x &amp; y&nbsp;z", "x & y z"),
        ("<?xml version='1.0'?><html><body>xhtml</body></html>", "xhtml"),
        ("http://example.com", "http://example.com"),  # bs4 would warn: it looks like a URL
        ("<p>APPROVE</p><![foo[ x ]]>", "APPROVE"),  # markup html.parser rejects
    ],
)
def test_html_text(markup: str, text: str) -> None:
    assert html_text(markup) == text


def test_deeply_nested_html_is_read_without_recursing_too_deep() -> None:
    assert html_text("<div>" * 20_000 + "APPROVE" + "</div>" * 20_000) == "APPROVE"
    assert html_text("<blockquote>" * 5_000 + "x").endswith("x")
    assert html_text("<ul><li>" * 5_000 + "x").endswith("x")


def test_inline_parts_of_a_mixed_mail_are_one_text() -> None:
    """Apple Mail puts an inline picture between two text parts."""
    boundary = "Apple-Mail=_6F3C0B5E-21A4-4D8F-9E7B-5C2A1D0E9F8B"
    body = (
        f"--{boundary}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nAPPROVE, see:\r\n"
        f"--{boundary}\r\nContent-Type: image/jpeg; name=IMG_0042.jpeg\r\n"
        "Content-Disposition: inline; filename=IMG_0042.jpeg\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n/9j/4AAQSkZJRg==\r\n"
        f"--{boundary}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nThe dashboard.\r\n"
        f"--{boundary}--\r\n"
    )
    m = read(raw(f'Content-Type: multipart/mixed; boundary="{boundary}"', body=body))
    assert m.text == "APPROVE, see:\n\nThe dashboard."
    assert m.reply == "APPROVE, see:\n\nThe dashboard."
    assert m.attachments == (Attachment(name="IMG_0042.jpeg", content_type="image/jpeg", size=10),)


# Attachments


def test_attachments_are_named_typed_and_sized() -> None:
    assert mail("gmail_de_attachment").attachments == (
        Attachment(name="Checkliste für den Release.pdf", content_type="application/pdf", size=193),
    )
    # Outlook's signature picture is an inline part of its own
    assert mail("outlook_en").attachments == (
        Attachment(name="image001.png", content_type="image/png", size=67),
    )
    assert mail("apple_iphone").attachments == ()


# Mail from machines

AUTOMATIC = {
    "ooo_gmail": "Auto-Submitted: auto-replied",
    "ooo_exchange": "X-Auto-Response-Suppress: All",
    "list_mail": "Precedence: list",
    "dsn_postfix": "Auto-Submitted: auto-replied",
    "dsn_gmail": "Auto-Submitted: auto-replied",
    "dsn_exchange": "Auto-Submitted: auto-replied",
    "dsn_qmail": "Return-Path: <>",
    **{name: None for name in REPLIES},
}


@pytest.mark.parametrize(("name", "why"), AUTOMATIC.items())
def test_mail_from_machines_says_why(name: str, why: str | None) -> None:
    assert mail(name).automatic == why


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        (["Auto-Submitted: auto-generated"], "Auto-Submitted: auto-generated"),
        (
            ["Auto-Submitted: auto-notified; owner-email=x@y.z"],
            "Auto-Submitted: auto-notified; owner-email=x@y.z",
        ),
        (["Auto-Submitted: no"], None),
        (["Auto-Submitted: No (a person wrote this)"], None),
        (["Precedence: bulk"], "Precedence: bulk"),
        (["Precedence: JUNK"], "Precedence: junk"),
        (["Precedence: auto_reply"], "Precedence: auto_reply"),
        (["Precedence: first-class"], None),
        (["List-Id: <platform.lists.example.org>"], "List-Id"),
        (["List-Unsubscribe: <mailto:u@example.org>"], "List-Unsubscribe"),
        (["X-Autoreply: yes"], "X-Autoreply"),
        (["X-Autorespond: Out of office"], "X-Autorespond"),
        (["X-Auto-Response-Suppress: OOF, DR"], "X-Auto-Response-Suppress: OOF, DR"),
        (["X-Auto-Response-Suppress: DR, RN, NRN"], None),  # asks others not to answer: a person's
        (["Return-Path: <>"], "Return-Path: <>"),
        (["Return-Path: <dana@example.com>"], None),
        (
            ["Subject: Automatische Antwort: Approve deploy?"],
            "Subject: Automatische Antwort: Approve deploy?",
        ),
        (["Subject: Out of Office: Approve deploy?"], "Subject: Out of Office: Approve deploy?"),
        (["Subject: Re: Automatic reply: Approve deploy?"], None),
        (
            ["Content-Type: multipart/report; report-type=disposition-notification; boundary=b"],
            "multipart/report; report-type=disposition-notification",
        ),
    ],
)
def test_each_sign_of_a_machine(headers: list[str], why: str | None) -> None:
    assert read(raw(*headers)).automatic == why


# Bounces


def test_a_postfix_bounce() -> None:
    bounce = mail("dsn_postfix").bounce
    assert bounce is not None
    assert bounce.failures == (
        Failure(
            recipient="nobody@fabrikam.de",
            status="5.1.1",
            diagnostic="550 5.1.1 <nobody@fabrikam.de>: Recipient address rejected: User unknown "
            "in virtual mailbox table",
        ),
    )
    assert bounce.permanent
    assert bounce.original_message_id == REQUEST_ID


def test_a_delay_is_transient() -> None:
    bounce = mail("dsn_delayed").bounce
    assert bounce is not None
    assert [(f.recipient, f.status, f.permanent) for f in bounce.failures] == [
        ("ops@slow.example.net", "4.4.1", False)
    ]
    assert not bounce.permanent
    assert bounce.original_message_id == REQUEST_ID


def test_gmail_and_exchange_bounces() -> None:
    gmail = mail("dsn_gmail").bounce
    assert gmail is not None
    assert [(f.recipient, f.status) for f in gmail.failures] == [("nobody@fabrikam.de", "5.1.1")]
    assert gmail.original_message_id == (
        "<CAKx9f3Xa8Lm2=Qp4Rt6Yb8Nc0Vf2Lh4Gj6Sa8Ep0Uo2Iw@mail.gmail.com>"
    )
    exchange = mail("dsn_exchange").bounce
    assert exchange is not None
    assert [(f.recipient, f.status) for f in exchange.failures] == [
        ("nobody@contoso.com", "5.1.10")
    ]
    assert exchange.failures[0].diagnostic.startswith("550 5.1.10 RESOLVER.ADR.RecipientNotFound")
    assert exchange.original_message_id == REQUEST_ID  # from the attached original


def test_a_qmail_bounce() -> None:
    bounce = mail("dsn_qmail").bounce
    assert bounce is not None
    assert [(f.recipient, f.status) for f in bounce.failures] == [
        ("nobody@example.org", "5.1.1"),
        ("gone@example.org", "5.2.1"),
    ]
    assert bounce.original_message_id == REQUEST_ID


def test_only_a_mailer_daemon_writes_a_qmail_bounce() -> None:
    quoted = (
        (MAIL / "dsn_qmail.eml")
        .read_bytes()
        .replace(b"From: MAILER-DAEMON@mail.example.org", b"From: dana@example.com")
    )
    assert read(quoted).bounce is None


def report(per_message: str, per_recipient: str) -> bytes:
    body = (
        "--b\r\nContent-Type: text/plain\r\n\r\nIt failed.\r\n"
        f"--b\r\nContent-Type: message/delivery-status\r\n\r\n{per_message}\r\n\r\n"
        f"{per_recipient}\r\n--b--\r\n"
    )
    return raw(
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"', body=body
    )


@pytest.mark.parametrize(
    ("per_message", "original"),
    [
        ("Reporting-MTA: dns; googlemail.com\r\nX-Original-Message-ID: <o@x>", "<o@x>"),
        (
            "Reporting-MTA: dns; mx.example.com\r\nOriginal-Envelope-Id: <req+2B417@x>",
            "<req+417@x>",
        ),
        ("Reporting-MTA: dns; mx.example.com", None),
    ],
)
def test_the_original_from_the_report_itself(per_message: str, original: str | None) -> None:
    m = read(report(per_message, "Final-Recipient: rfc822; a@x\r\nAction: failed\r\nStatus: 5.0.0"))
    assert m.bounce is not None
    assert m.bounce.original_message_id == original


def test_a_status_from_the_diagnostic_and_no_bounce_for_deliveries() -> None:
    failed = read(
        report(
            "Reporting-MTA: dns; x",
            "Final-Recipient: a@x\r\nAction: failed\r\nDiagnostic-Code: smtp; 552 mailbox full",
        )
    )
    assert failed.bounce is not None
    assert failed.bounce.failures == (Failure("a@x", "5.0.0", "552 mailbox full"),)
    delivered = read(
        report(
            "Reporting-MTA: dns; x",
            "Final-Recipient: rfc822; a@x\r\nAction: delivered\r\nStatus: 2.0.0",
        )
    )
    assert delivered.bounce is None
    assert delivered.automatic == "multipart/report; report-type=delivery-status"


def test_a_reply_is_no_bounce() -> None:
    assert [mail(name).bounce for name in REPLIES] == [None] * len(REPLIES)


# Authentication-Results


def test_the_trusted_server_vouches_for_the_sender() -> None:
    gmail = mail("gmail_reply")
    assert authenticated(gmail, "mx.example.com", "gmail.com")
    assert authenticated(gmail, "MX.Example.COM", "Gmail.com")
    assert not authenticated(gmail, "mx.example.com", "example.com")
    assert not authenticated(gmail, "mx.google.com", "gmail.com")  # nobody wrote under that id
    # DKIM and DMARC in two headers; Microsoft's own header, with no authserv-id, ignored
    assert authenticated(mail("outlook_en"), "mx.example.com", "contoso.com")
    assert authenticated(mail("apple_iphone"), "mx.example.com", "icloud.com")  # DKIM only


def test_results_under_another_authserv_id_are_ignored() -> None:
    forged = mail("forged_auth")
    assert forged.from_address == "dana.smith@contoso.com"
    assert not authenticated(forged, "mx.example.com", "contoso.com")
    # what the sender wrote under a name of its choosing would have passed
    assert authenticated(forged, "mx.contoso.com", "contoso.com")


@pytest.mark.parametrize(
    ("headers", "domain", "vouched"),
    [
        (["mx.example.com; dkim=pass header.d=example.com"], "example.com", True),
        (["mx.example.com; dkim=pass header.d=mail.example.com"], "example.com", True),
        (["mx.example.com; dkim=pass header.d=example.com"], "eu.example.com", True),
        (["mx.example.com; dkim=pass header.d=a.example.com"], "b.example.com", False),
        (["mx.example.com; dkim=pass header.d=notexample.com"], "example.com", False),
        (["mx.example.com; dkim=pass header.d=com"], "example.com", False),
        (["mx.example.com; dkim=pass header.i=@example.com"], "example.com", True),
        (["mx.example.com; dkim=pass header.i=dana@eu.example.com"], "example.com", True),
        (["mx.example.com; dkim=fail header.d=example.com"], "example.com", False),
        (
            ["mx.example.com; dkim=pass header.d=evil.example; dkim=fail header.d=example.com"],
            "example.com",
            False,
        ),
        (["mx.example.com; spf=pass smtp.mailfrom=example.com"], "example.com", False),
        (["mx.example.com; dmarc=pass header.from=example.com"], "example.com", True),
        (["mx.example.com; dmarc=pass"], "example.com", True),
        (["mx.example.com; dmarc=pass header.from=evil.example"], "example.com", False),
        (
            ["mx.example.com; dmarc=fail header.from=example.com; dkim=pass header.d=example.com"],
            "example.com",
            False,
        ),
        (
            ["mx.example.com; dkim=pass header.d=example.com", "mx.example.com; dmarc=fail"],
            "example.com",
            False,
        ),
        (["mx.example.com; none"], "example.com", False),
        (["mx.example.com"], "example.com", False),
        ([""], "example.com", False),
        # comments and quoted strings say nothing
        (["mx.example.com (dkim=pass header.d=example.com); spf=none"], "example.com", False),
        (
            ["mx.example.com; dkim=fail (not dkim=pass header.d=example.com) header.d=example.com"],
            "example.com",
            False,
        ),
        (
            [
                'mx.example.com; dkim=pass reason="; dkim=pass header.d=example.com" header.d=evil.example'
            ],
            "example.com",
            False,
        ),
        (
            ["mx.example.com; dkim=pass (a (nested) comment) header.d=example.com"],
            "example.com",
            True,
        ),
        # the grammar's other forms
        (['"mx.example.com"; dkim=pass header.d=example.com'], "example.com", True),
        (["mx.example.com 1; dkim=pass header.d=example.com"], "example.com", True),
        (["mx.example.com; dkim/1 = pass header . d = example.com"], "example.com", True),
        (["MX.EXAMPLE.COM; DKIM=PASS HEADER.D=EXAMPLE.COM"], "example.com", True),
        (["mx.example.com;\r\n\tdkim=pass\r\n header.d=example.com."], "example.com", True),
        # names that are not the trusted one
        (["mx.example.com.evil.example; dkim=pass header.d=example.com"], "example.com", False),
        (
            ["dkim=pass header.d=example.com; dmarc=pass header.from=example.com"],
            "example.com",
            False,
        ),
        (["mx.example.com; dkim=pass header.d=example.com"], "", False),
    ],
)
def test_authentication_results_are_parsed_as_rfc_8601_writes_them(
    headers: list[str], domain: str, vouched: bool
) -> None:
    assert authenticated(headers, "mx.example.com", domain) is vouched


def test_one_header_may_be_passed_alone() -> None:
    assert authenticated("mx.example.com; dmarc=pass", "mx.example.com", "example.com")


# Not a mail


@pytest.mark.parametrize(
    "data",
    [
        (MAIL / "garbage.eml").read_bytes(),
        b"",
        b"hello world",
        b"\x00" * 100,
        b"Subject: no sender\r\n\r\nx",
        # MIME nested so deep that the standard library's parser runs out of stack
        b"From: a@example.com\r\n"
        + b"".join(
            b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
            for i in range(3_000)
        ),
    ],
)
def test_what_is_no_mail_raises_not_mail(data: bytes) -> None:
    with pytest.raises(NotMail):
        read(data)


def test_control_characters_in_headers_become_spaces() -> None:
    """An encoded-word may hold any character: none reaches what core takes."""
    data = (
        b"From: =?utf-8?q?Bob=01Example?= <bob@example.com>\r\n"
        b"Subject: =?utf-8?q?deploy=00api=1B[31m?=\r\n"
        b"Message-ID: <a\x01b@example.com>\r\n\r\nAPPROVE\r\n"
    )
    [taken] = CODEC.read(data)
    assert isinstance(taken, InboundMessage)
    assert (taken.sender_name, taken.external_id) == ("Bob Example", "<ab@example.com>")
    assert taken.conversation == "<ab@example.com> deploy api [31m"


def test_not_mail_is_a_value_error() -> None:
    assert issubclass(NotMail, ValueError)


CODEC = EmailCodec("Switchboard <agents@example.com>", b"the tests' key")
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.binary(max_size=4_000))
def test_read_raises_only_not_mail_on_any_bytes(data: bytes) -> None:
    try:
        m = read(data)
    except NotMail:
        return
    assert isinstance(first_line(m.reply), str)


HEADER_NAMES = [
    "From", "To", "Cc", "Date", "Subject", "Message-ID", "In-Reply-To", "References",
    "Return-Path", "Content-Type", "Content-Disposition", "Content-Transfer-Encoding",
    "Auto-Submitted", "X-Auto-Response-Suppress", "Authentication-Results", "Delivered-To",
]  # fmt: skip
PIECES = [
    *"abc@.<>\"()\\,;:=?* \t", "=?utf-8?q?", "=?utf-8?b?", "?=", "\r\n ", "\x00", "\xff", "ü",
    "\x01", "=00", "=01", "=?utf-8?q?=01?=", "agents+",
    "multipart/", "text/html", "boundary=", "charset=", "filename*=", "''", "%ff", "group:",
    "dkim=pass", "header.d=", "rfc822;", "99999", "-0000", "message/rfc822", "report-type=",
]  # fmt: skip
header_values = st.lists(st.sampled_from(PIECES), max_size=25).map("".join)
bodies = st.lists(
    st.sampled_from([*PIECES, "\r\n", "--", "<p>", "<li>", "> ", "On x wrote:", "-- \r\n"]),
    max_size=60,
).map("".join)


@FUZZ
@given(
    st.lists(st.tuples(st.sampled_from(HEADER_NAMES), header_values), max_size=10),
    header_values,
    bodies,
)
def test_read_raises_only_not_mail_on_any_headers(
    headers: list[tuple[str, str]], sender: str, body: str
) -> None:
    """Mail-shaped input, where the standard library's header parser has its own failures; and
    the codec, which makes it what core takes, refuses it only as Malformed."""
    lines = [f"From: {sender}", *(f"{name}: {value}" for name, value in headers)]
    data = ("\r\n".join(lines) + "\r\n\r\n" + body).encode("utf-8", "surrogateescape")
    m = read(data)
    assert isinstance(authenticated(m, "a.example", "b.example"), bool)
    assert isinstance(first_line(m.reply), str)
    with contextlib.suppress(Malformed):
        assert isinstance(CODEC.read(data), list)


@FUZZ
@given(st.text(max_size=2_000))
def test_text_helpers_never_raise(text: str) -> None:
    assert isinstance(html_text(text), str)
    assert isinstance(new_text(text), str)
    assert isinstance(authenticated([text], "mx.example.com", "example.com"), bool)
