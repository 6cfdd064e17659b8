"""kettle.mail: messages, backends, and SMTP against a real server (aiosmtpd,
started on 127.0.0.1 for each test that needs one).

Not tested here: STARTTLS and implicit TLS that succeed. They need a
certificate made at test time, and the ``cryptography`` package that would
make one is not installed; the failures of both against a plain server are
tested.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import io
import re
import socket
import sys
import threading
import time
from collections.abc import Iterator
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from aiosmtpd.smtp import LoginPassword

from kettle import Kettle
from kettle import mail
from kettle.exceptions import ImproperlyConfigured
from kettle.mail import ConsoleBackend
from kettle.mail import MailBackend
from kettle.mail import MailError
from kettle.mail import MemoryBackend
from kettle.mail import Message
from kettle.mail import NullBackend
from kettle.mail import SMTPBackend
from kettle.mail import get_backend
from kettle.mail import send_mail
from kettle.mail import send_mail_async
from kettle.mail import send_messages
from kettle.mail import send_messages_async

USER = b"ann"
PASSWORD = b"correct horse"
REFUSED = "nobody@example.org"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    connection: int  # the same number for messages of one connection
    login: bytes | None

    @property
    def email(self) -> EmailMessage:
        data = self.data.replace(b"\r\n", b"\n")  # SMTP's line ends, as in a file
        parsed = email.message_from_bytes(data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Recorder:
    """An aiosmtpd handler that keeps what it receives."""

    received: list[Received] = field(default_factory=list)
    connections: dict[int, int] = field(default_factory=dict)
    greetings: int = 0  # EHLO commands: about one per connection

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: Any
    ) -> Any:
        self.greetings += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address == REFUSED:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        number = self.connections.setdefault(id(session), len(self.connections))
        login = session.auth_data.login if session.authenticated else None
        self.received.append(
            Received(
                envelope.mail_from,
                list(envelope.rcpt_tos),
                envelope.original_content,
                number,
                login,
            )
        )
        return "250 OK"


def authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data == (USER, PASSWORD)
    return AuthResult(success=ok, handled=False, auth_data=auth_data)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    recorder: Recorder
    port: int

    @property
    def received(self) -> list[Received]:
        return self.recorder.received

    def app(self, **settings: Any) -> Kettle:
        """An app sending mail to this server."""
        config: dict[str, Any] = {
            "mail_backend": "smtp",
            "mail_host": "127.0.0.1",
            "mail_port": self.port,
            "mail_timeout": 2,
            "mail_default_from": "Tea Shop <shop@example.org>",
        }
        config.update(settings)
        return Kettle(env_file=None, **config)


@pytest.fixture
def smtp_server() -> Iterator[Server]:
    recorder = Recorder()
    controller = Controller(
        recorder,
        hostname="127.0.0.1",
        port=free_port(),
        server_hostname="mail.test",
        authenticator=authenticator,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield Server(recorder, controller.port)
    finally:
        controller.stop()


@pytest.fixture(autouse=True)
def empty_outbox() -> Iterator[None]:
    mail.outbox.clear()
    yield
    mail.outbox.clear()


def app_with(**settings: Any) -> Kettle:
    return Kettle(env_file=None, **settings)


def memory(app: Kettle) -> MemoryBackend:
    backend = get_backend(app)
    assert isinstance(backend, MemoryBackend)
    return backend


def closed_port_app(**settings: Any) -> Kettle:
    """An app whose SMTP server is down (nothing listens on its port)."""
    return app_with(
        mail_backend="smtp", mail_host="127.0.0.1", mail_port=free_port(), **settings
    )


# -- SMTP ----------------------------------------------------------------------------


def test_plain_message_arrives(smtp_server: Server) -> None:
    app = smtp_server.app()
    assert (
        send_mail("Hello", "Hi Ann,\nyour tea is ready.", "ann@example.org", app=app)
        == 1
    )
    [got] = smtp_server.received
    assert got.mail_from == "shop@example.org"
    assert got.rcpt_tos == ["ann@example.org"]
    msg = got.email
    assert msg["Subject"] == "Hello"
    assert msg["From"] == "Tea Shop <shop@example.org>"
    assert msg["To"] == "ann@example.org"
    assert msg["Date"] and msg["Message-ID"].endswith("@example.org>")
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content_charset() == "utf-8"
    assert msg.get_content() == "Hi Ann,\nyour tea is ready.\n"
    assert got.login is None


def test_html_message_with_cc_and_bcc(smtp_server: Server) -> None:
    app = smtp_server.app()
    sent = send_mail(
        "News",
        "Plain news",
        ["Ann <ann@example.org>", "bob@example.org"],
        html="<p>HTML <b>news</b></p>",
        from_email="Editor <editor@example.net>",
        cc="carol@example.org",
        bcc=["dan@example.org", "ann@example.org"],
        reply_to="desk@example.net",
        app=app,
    )
    assert sent == 1
    [got] = smtp_server.received
    assert got.mail_from == "editor@example.net"
    assert got.rcpt_tos == [
        "ann@example.org",
        "bob@example.org",
        "carol@example.org",
        "dan@example.org",
    ]
    assert b"dan@example.org" not in got.data
    msg = got.email
    assert "Bcc" not in msg
    assert msg["To"] == "Ann <ann@example.org>, bob@example.org"
    assert msg["Cc"] == "carol@example.org"
    assert msg["Reply-To"] == "desk@example.net"
    assert msg["From"] == "Editor <editor@example.net>"
    assert msg.get_content_type() == "multipart/alternative"
    text, html = msg.iter_parts()
    assert (text.get_content_type(), text.get_content()) == (
        "text/plain",
        "Plain news\n",
    )
    assert (html.get_content_type(), html.get_content()) == (
        "text/html",
        "<p>HTML <b>news</b></p>\n",
    )
    assert msg.get_body(("html",)) is not None


def test_utf8_round_trip(smtp_server: Server) -> None:
    subject = "Grüße, café ☕ – 日本茶 " + "long " * 20
    body = "Zoë’s order: 2 × sencha, ½ kg.\nΚαλημέρα!\n"
    send_mail(
        subject,
        body,
        "Zoë Ångström <zoe@example.org>",
        html="<p>Zoë’s ☕</p>",
        from_email="Café Ünïcode <shop@example.org>",
        app=smtp_server.app(),
    )
    [got] = smtp_server.received
    assert got.data.isascii()  # 7-bit safe: any server carries it unchanged
    msg = got.email
    assert msg["Subject"] == subject
    assert msg["To"].addresses[0].display_name == "Zoë Ångström"
    assert msg["From"].addresses[0].display_name == "Café Ünïcode"
    plain = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert plain is not None and html is not None
    assert plain.get_content_charset() == "utf-8"
    assert plain.get_content() == body
    assert html.get_content() == "<p>Zoë’s ☕</p>\n"


def test_attachments(smtp_server: Server) -> None:
    pdf = b"%PDF-1.4\x00\xff\xfe binary"
    message = Message(
        "Your invoice",
        "Attached.",
        "ann@example.org",
        html="<p>Attached.</p>",
        attachments=[
            ("invoice.pdf", pdf, None),  # guessed: application/pdf
            ("orders.csv", "id,tea\n1,sencha\n2,café\n", "text/csv"),
            ("blob", b"\x00\x01\x02", None),
            ("résumé notes.txt", "ünïcode", None),
        ],
    )
    message.attach("data.json", '{"a": 1}', "application/json")
    assert send_messages([message], app=smtp_server.app()) == 1
    msg = smtp_server.received[0].email
    assert msg.get_content_type() == "multipart/mixed"
    body = msg.get_body(("html", "plain"))
    assert body is not None and body.get_content() == "<p>Attached.</p>\n"
    parts = {
        part.get_filename(): (part.get_content_type(), part.get_content())
        for part in msg.iter_attachments()
    }
    assert parts == {
        "invoice.pdf": ("application/pdf", pdf),
        "orders.csv": ("text/csv", "id,tea\n1,sencha\n2,café\n"),
        "blob": ("application/octet-stream", b"\x00\x01\x02"),
        "résumé notes.txt": ("text/plain", "ünïcode\n"),
        "data.json": ("application/json", b'{"a": 1}'),
    }


def test_several_messages_share_one_connection(smtp_server: Server) -> None:
    app = smtp_server.app()
    messages = [
        Message(f"Note {n}", f"Body {n}", f"u{n}@example.org") for n in range(3)
    ]
    assert send_messages(messages, app=app) == 3
    assert send_messages([], app=app) == 0
    send_mail("Later", "Another batch", "u9@example.org", app=app)
    received = smtp_server.received
    assert [r.email["Subject"] for r in received] == [
        "Note 0",
        "Note 1",
        "Note 2",
        "Later",
    ]
    assert [r.connection for r in received] == [0, 0, 0, 1]
    assert smtp_server.recorder.greetings == 2
    assert [r.rcpt_tos for r in received[:3]] == [
        ["u0@example.org"],
        ["u1@example.org"],
        ["u2@example.org"],
    ]


def test_login(smtp_server: Server) -> None:
    app = smtp_server.app(mail_username="ann", mail_password="correct horse")
    send_mail("Hi", "Logged in", "bob@example.org", app=app)
    assert [r.login for r in smtp_server.received] == [USER]


def test_wrong_password_is_a_mail_error(smtp_server: Server) -> None:
    app = smtp_server.app(mail_username="ann", mail_password="wrong")
    with pytest.raises(MailError) as caught:
        send_mail("Hi", "Body", "bob@example.org", app=app)
    text = str(caught.value)
    assert f"127.0.0.1:{smtp_server.port}" in text
    assert "login was refused: 535" in text
    assert caught.value.sent == 0
    assert smtp_server.received == []


def test_refused_recipient_reports_what_was_sent(smtp_server: Server) -> None:
    app = smtp_server.app()
    messages = [
        Message("One", "1", "ann@example.org"),
        Message("Two", "2", REFUSED),
        Message("Three", "3", "bob@example.org"),
    ]
    with pytest.raises(MailError) as caught:
        send_messages(messages, app=app)
    assert caught.value.sent == 1
    assert "every recipient was refused: nobody@example.org (550" in str(caught.value)
    assert "(1 sent before)" in str(caught.value)
    assert [r.email["Subject"] for r in smtp_server.received] == ["One"]
    # A message that reaches at least one recipient counts as sent.
    both = Message("Both", "b", ["ann@example.org", REFUSED])
    assert send_messages([both], app=app) == 1
    assert smtp_server.received[-1].rcpt_tos == ["ann@example.org"]


def test_server_down_is_a_quick_mail_error() -> None:
    app = closed_port_app()
    port = app.config["MAIL_PORT"]
    start = time.perf_counter()
    with pytest.raises(MailError, match=rf"127\.0\.0\.1:{port} failed: .*refused"):
        send_mail("Hi", "Body", "ann@example.org", app=app)
    assert time.perf_counter() - start < 3  # not MAIL_TIMEOUT's 10 s


def test_silent_server_times_out() -> None:
    with socket.socket() as listener:  # accepts connections, never says a word
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        app = app_with(
            mail_backend="smtp", mail_host="127.0.0.1", mail_port=port, mail_timeout=0.2
        )
        start = time.perf_counter()
        with pytest.raises(MailError, match="no answer in time"):
            send_mail("Hi", "Body", "ann@example.org", app=app)
        assert time.perf_counter() - start < 3  # its 0.2 s, not the default 10 s


def test_starttls_on_a_server_without_it(smtp_server: Server) -> None:
    app = smtp_server.app(mail_use_tls=True)
    with pytest.raises(MailError, match="STARTTLS"):
        send_mail("Hi", "Body", "ann@example.org", app=app)
    assert smtp_server.received == []


def test_implicit_tls_on_a_plain_server(smtp_server: Server) -> None:
    app = smtp_server.app(mail_use_ssl=True)
    with pytest.raises(MailError, match=f"127.0.0.1:{smtp_server.port} failed"):
        send_mail("Hi", "Body", "ann@example.org", app=app)
    assert smtp_server.received == []


def test_smtp_settings() -> None:
    backend = get_backend(
        app_with(
            mail_host="smtp.example.org",
            mail_port="587",  # as read from the environment
            mail_use_tls=True,
            mail_username="shop",
            mail_password="secret",
            mail_timeout=2.5,
        )
    )
    assert isinstance(backend, SMTPBackend)
    assert (backend.host, backend.port, backend.use_tls, backend.use_ssl) == (
        "smtp.example.org",
        587,
        True,
        False,
    )
    assert (backend.username, backend.password, backend.timeout) == (
        "shop",
        "secret",
        2.5,
    )
    assert backend.ssl_context is not None
    assert backend.default_from == "webmaster@localhost"


@pytest.mark.parametrize(
    ("settings", "error"),
    [
        ({"mail_use_tls": True, "mail_use_ssl": True}, "cannot both be on"),
        ({"mail_timeout": 0}, "MAIL_TIMEOUT must be a number of seconds > 0"),
        ({"mail_timeout": None}, "MAIL_TIMEOUT must be a number of seconds > 0"),
        ({"mail_port": "smtp"}, "MAIL_PORT must be a whole number"),
        ({"mail_host": ""}, "MAIL_HOST must name the SMTP server"),
        ({"mail_default_from": "shop"}, "MAIL_DEFAULT_FROM: 'shop' is not an email"),
    ],
)
def test_bad_smtp_settings(settings: dict[str, Any], error: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=error):
        get_backend(app_with(mail_backend="smtp", **settings))


# -- checking messages ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"subject": "Hi\r\nBcc: eve@evil.test"}, "subject .* contains a line break"),
        ({"subject": "Hi\nthere"}, "subject .* contains a line break"),
        ({"subject": "Hi\u2028there"}, "subject .* contains a line break"),
        ({"to": "ann@example.org\r\nBcc: eve@evil.test"}, "to address .* line break"),
        ({"to": ["ok@example.org", "a@b.c\nBcc: e@e.e"]}, "to address .* line break"),
        ({"cc": "ann@example.org\nX: y"}, "cc address .* line break"),
        ({"bcc": "ann@example.org\rX: y"}, "bcc address .* line break"),
        ({"reply_to": "a@b.c\nX: y"}, "reply_to address .* line break"),
        ({"from_email": "a@b.c\nBcc: e@e.e"}, "from_email address .* line break"),
        ({"headers": {"X-Tag": "a\r\nBcc: e@e.e"}}, "header X-Tag .* line break"),
        ({"headers": {"X-Tag\r\nBcc": "e@e.e"}}, "not a header name"),
        ({"headers": {"Bcc": "eve@evil.test"}}, "Bcc is written by the message"),
        ({"headers": {"content-type": "text/html"}}, "content-type is written"),
        ({"attachments": [("a\r\n.txt", b"", None)]}, "attachment filename"),
        ({"to": "ann@example.org, eve@evil.test"}, "to: .* is not an email address"),
        ({"to": "nobody"}, "to: 'nobody' is not an email address"),
        ({"to": "ann@"}, "is not an email address"),
        ({"to": "@example.org"}, "is not an email address"),
        ({"to": "a@b@c"}, "is not an email address"),
        ({"to": "ann@exa mple.org"}, "is not an email address"),
        ({"to": "<>"}, "is not an email address"),
        ({"cc": ["fine@example.org", "bad"]}, "cc: 'bad' is not an email address"),
        ({"from_email": "Shop"}, "from_email: 'Shop' is not an email address"),
    ],
)
def test_bad_messages_are_refused(kwargs: dict[str, Any], error: str) -> None:
    args: dict[str, Any] = {"subject": "Hi", "body": "Body", "to": "ann@example.org"}
    args.update(kwargs)
    with pytest.raises(ValueError, match=error):
        Message(**args)
    with pytest.raises(ValueError, match=error):  # before connecting to the server
        send_mail(**args, app=closed_port_app())


def test_messages_changed_after_creation_are_checked_again(
    smtp_server: Server,
) -> None:
    app = smtp_server.app()
    message = Message("Hi", "Body", "ann@example.org")
    message.subject = "Hi\nBcc: eve@evil.test"
    with pytest.raises(ValueError, match="subject"):
        message.as_email()
    changed = Message("Hi", "Body", "ann@example.org")
    changed.to.append("eve@evil.test\nX: y")
    with pytest.raises(ValueError, match="to address"):
        changed.recipients()
    # One bad message in a batch: none is sent.
    good = Message("Good", "Body", "ann@example.org")
    for bad in (message, changed):
        with pytest.raises(ValueError):
            send_messages([good, bad], app=app)
    assert smtp_server.received == []
    assert smtp_server.recorder.greetings == 0  # never connected


def test_message_details() -> None:
    with pytest.raises(TypeError, match="subject must be a string"):
        Message(b"Hi", "Body", "ann@example.org")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="to address must be a string"):
        Message("Hi", "Body", [42])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="content must be bytes or str"):
        Message("Hi", "Body", "a@b.c", attachments=[("a", 1, None)])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="body must be a string"):
        Message("Hi", None, "a@b.c")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="html must be a string"):
        Message("Hi", "Body", "a@b.c", html=b"<p>")  # type: ignore[arg-type]
    bad_type = Message("Hi", "x", "a@b.c", attachments=[("a", "x", "text/a\nX: y")])
    with pytest.raises(ValueError, match="is not a MIME type"):
        bad_type.as_email()
    one = Message("Hi", "Body", "a@b.c")
    one.to = "Bo <b@b.c>"  # type: ignore[assignment]
    assert one.recipients() == ["b@b.c"] and one.as_email()["To"] == "Bo <b@b.c>"
    with pytest.raises(ValueError, match="'csv' is not a MIME type"):
        Message("Hi", "Body", "a@b.c", attachments=[("a", "x", "csv")]).as_email()
    with pytest.raises(ValueError, match="no recipient"):
        Message("Hi", "Body", []).as_email()
    only_bcc = Message("Hi", "Body", [], bcc="eve@example.org")
    assert "To" not in only_bcc.as_email() and only_bcc.recipients() == [
        "eve@example.org"
    ]
    message = Message(
        "Hi",
        "Body",
        "Ann <ann@example.org>",
        cc=["ANN@example.org", "bob@example.org"],
        bcc="bob@example.org",
        headers={"X-Campaign": "spring", "Message-ID": "<fixed@example.org>"},
    )
    assert message.recipients() == [
        "ann@example.org",
        "ANN@example.org",
        "bob@example.org",
    ]
    built = message.as_email("Shop <shop@example.org>")
    assert built["From"] == "Shop <shop@example.org>"
    assert built["X-Campaign"] == "spring"
    assert built.get_all("Message-ID") == ["<fixed@example.org>"]  # replaced
    assert message.as_email()["From"] == "webmaster@localhost"  # outside an app
    with app_with(mail_default_from="app@example.org").app_context():
        assert message.as_email()["From"] == "app@example.org"
    assert repr(message) == (
        "<Message 'Hi' to ['Ann <ann@example.org>', 'ANN@example.org', "
        "'bob@example.org', 'bob@example.org']>"
    )


# -- other backends ------------------------------------------------------------------


def test_console_backend_is_the_debug_default(
    capsys: pytest.CaptureFixture[str],
) -> None:
    app = app_with(debug=True)
    assert type(get_backend(app)) is ConsoleBackend
    assert type(get_backend(app_with(debug=False))) is SMTPBackend
    sent = send_mail(
        "Café ☕",
        "Hélló, Zoë",
        "Zoë <zoe@example.org>",
        bcc="boss@example.org",
        html="<p>Hélló</p>",
        app=app,
    )
    assert sent == 1
    out = capsys.readouterr().out
    assert "Subject: Café ☕\n" in out  # readable, not encoded
    assert "To: Zoë <zoe@example.org>\n" in out
    assert "From: webmaster@localhost\n" in out
    assert "\nHélló, Zoë\n" in out and "<p>Hélló</p>" in out
    assert "boss@example.org" not in out
    assert out.endswith("-" * 79 + "\n")


def test_console_backend_stream() -> None:
    stream = io.StringIO()
    backend = ConsoleBackend(app_with(), stream=stream)
    messages = [
        Message("One", "1", "a@example.org"),
        Message("Two", "2", "b@example.org"),
    ]
    assert backend.send_messages(messages) == 2
    text = stream.getvalue()
    assert text.count("-" * 79) == 2
    assert text.index("Subject: One") < text.index("Subject: Two")


def test_memory_backend_outbox() -> None:
    app = app_with(mail_backend="memory", mail_default_from="shop@example.org")
    other = app_with(mail_backend="memory")
    message = Message("Welcome", "Hello Ann", "ann@example.org")
    assert send_messages([message], app=app) == 1
    send_mail("Other", "x", "bob@example.org", from_email="me@example.org", app=other)
    backend = get_backend(app)
    assert isinstance(backend, MemoryBackend)
    assert app.extensions["mail"] is backend
    [kept] = backend.outbox
    assert (kept.subject, kept.body, kept.to) == (
        "Welcome",
        "Hello Ann",
        ["ann@example.org"],
    )
    assert kept.from_email == "shop@example.org"  # filled in on the copy
    assert message.from_email is None  # the message sent is left as it was
    assert kept.as_email()["From"] == "shop@example.org"
    assert [m.subject for m in mail.outbox] == ["Welcome", "Other"]
    assert [m.subject for m in memory(other).outbox] == ["Other"]
    message.subject = "Changed later"
    assert kept.subject == "Welcome"
    with pytest.raises(ValueError, match="subject"):  # checked as for SMTP
        send_mail("a\nb", "x", "ann@example.org", app=app)
    assert len(mail.outbox) == 2


def test_file_backend(tmp_path: Path) -> None:
    app = app_with(mail_backend="file", mail_file_path=str(tmp_path / "mail"))
    messages = [
        Message(
            "One", "Body ü", "ann@example.org", attachments=[("a.bin", b"\x00", None)]
        ),
        Message("Two", "2", "bob@example.org", bcc="eve@example.org"),
    ]
    assert send_messages(messages, app=app) == 2
    files = sorted((tmp_path / "mail").glob("*.eml"))
    assert len(files) == 2
    assert all(
        re.fullmatch(r"\d{8}-\d{6}-\d{6}-[0-9a-f]{8}\.eml", f.name) for f in files
    )
    parsed = [
        email.message_from_bytes(f.read_bytes(), policy=email.policy.default)
        for f in files
    ]
    assert sorted(p["Subject"] for p in parsed) == ["One", "Two"]
    assert all("Bcc" not in p for p in parsed)
    one = next(p for p in parsed if p["Subject"] == "One")
    assert isinstance(one, EmailMessage)
    body = one.get_body(("plain",))
    assert body is not None and body.get_content() == "Body ü\n"
    assert [a.get_content() for a in one.iter_attachments()] == [b"\x00"]


def test_file_backend_path_is_relative_to_the_app(tmp_path: Path) -> None:
    app = app_with(mail_backend="file", mail_file_path="sent-mail")
    app.root_path = str(tmp_path)
    send_mail("Hi", "Body", "ann@example.org", app=app)
    assert len(list((tmp_path / "sent-mail").glob("*.eml"))) == 1
    with pytest.raises(ImproperlyConfigured, match="needs MAIL_FILE_PATH"):
        get_backend(app_with(mail_backend="file"))
    (tmp_path / "a-file").write_text("")
    with pytest.raises(ImproperlyConfigured, match="MAIL_FILE_PATH .* is not a folder"):
        get_backend(
            app_with(mail_backend="file", mail_file_path=str(tmp_path / "a-file"))
        )


def test_null_backend() -> None:
    app = app_with(mail_backend="null")
    assert isinstance(get_backend(app), NullBackend)
    assert send_mail("Hi", "Body", "ann@example.org", app=app) == 1
    with pytest.raises(ValueError, match="no recipient"):
        send_messages([Message("Hi", "Body", [])], app=app)


class RecordingBackend(MailBackend):
    """A custom backend, found by its dotted path."""

    def __init__(self, app: Kettle) -> None:
        super().__init__(app)
        self.batches: list[list[str]] = []
        self.threads: list[str] = []

    def send_messages(self, messages: Sequence[Message]) -> int:
        for message in messages:
            message.as_email(self.default_from)
        self.batches.append([m.subject for m in messages])
        self.threads.append(threading.current_thread().name)
        return len(messages)


@pytest.mark.parametrize(
    "path", [f"{__name__}:RecordingBackend", f"{__name__}.RecordingBackend"]
)
def test_custom_backend_by_dotted_path(path: str) -> None:
    assert sys.modules[__name__].RecordingBackend is RecordingBackend
    app = app_with(mail_backend=path)
    messages = [Message("A", "a", "a@example.org"), Message("B", "b", "b@example.org")]
    assert send_messages(messages, app=app) == 2
    backend = get_backend(app)
    assert isinstance(backend, RecordingBackend)
    assert backend.batches == [["A", "B"]]
    assert get_backend(app) is backend  # made once per app


def test_backend_class_as_setting() -> None:
    app = app_with(mail_backend=RecordingBackend)
    send_mail("A", "a", "a@example.org", app=app)
    backend = get_backend(app)
    assert isinstance(backend, RecordingBackend) and backend.batches == [["A"]]


@pytest.mark.parametrize(
    ("setting", "error"),
    [
        (
            "smpt",
            r"MAIL_BACKEND 'smpt' is not one Kettle knows: use 'smtp', 'console', "
            r"'memory', 'file', 'null', or a 'package.module:Class' path",
        ),
        ("no_such_module_xyz:Backend", "cannot import 'no_such_module_xyz'"),
        (
            "kettle.mail:NoSuchBackend",
            r"kettle.mail.NoSuchBackend is not a subclass of "
            r"kettle.mail.MailBackend \(it does not exist\)",
        ),
        ("kettle.mail:Message", "kettle.mail.Message is not a subclass"),
        ("kettle.mail.send_mail", "kettle.mail.send_mail is not a subclass"),
        ("", "MAIL_BACKEND must be a backend name"),
        (42, "MAIL_BACKEND must be a backend name .* not 42"),
        (dict, "not <class 'dict'>"),
    ],
)
def test_bad_mail_backend(setting: Any, error: str) -> None:
    app = app_with(mail_backend=setting)
    with pytest.raises(ImproperlyConfigured, match=error):
        send_mail("Hi", "Body", "ann@example.org", app=app)
    assert "mail" not in app.extensions


def test_backend_from_the_current_app() -> None:
    app = app_with(mail_backend="memory")
    with pytest.raises(RuntimeError, match="sending mail needs an app"):
        send_mail("Hi", "Body", "ann@example.org")
    with app.app_context():
        assert send_mail("Hi", "Body", "ann@example.org") == 1
        assert get_backend() is get_backend(app)

    @app.get("/signup")
    def signup() -> str:
        send_mail("Welcome", "Hello", "new@example.org")
        return "ok"

    with app.test_client() as client:
        assert client.get("/signup").text == "ok"
    assert [m.subject for m in memory(app).outbox] == ["Hi", "Welcome"]


# -- async ---------------------------------------------------------------------------


def test_async_send_over_smtp(smtp_server: Server) -> None:
    app = smtp_server.app()

    async def main() -> tuple[int, int]:
        one = await send_mail_async(
            "Async", "Body", "ann@example.org", app=app, html="<p>x</p>"
        )
        two = await send_messages_async(
            (Message(f"Batch {n}", "b", "bob@example.org") for n in range(2)), app=app
        )
        return one, two

    assert asyncio.run(main()) == (1, 2)
    assert [r.email["Subject"] for r in smtp_server.received] == [
        "Async",
        "Batch 0",
        "Batch 1",
    ]


def test_async_send_runs_in_the_thread_pool() -> None:
    app = app_with(mail_backend=RecordingBackend)

    async def main() -> int:
        with pytest.raises(ValueError, match="subject"):  # at once, in the caller
            await send_mail_async("a\nb", "x", "a@example.org", app=app)
        with app.app_context():  # the current app is found
            return await send_mail_async("Hi", "Body", "ann@example.org")

    assert asyncio.run(main()) == 1
    backend = get_backend(app)
    assert isinstance(backend, RecordingBackend)
    assert backend.threads[0].startswith("kettle-sync")
