"""Sending email: :class:`Message`, :func:`send_mail` and :func:`send_messages`
(with ``async`` twins), through the backend the ``MAIL_BACKEND`` setting names.

A :class:`Message` becomes a standard :class:`email.message.EmailMessage`:
text, an optional HTML alternative and attachments, UTF-8 throughout. Headers
cannot be injected: a line break in the subject, an address or an extra header
is a :class:`ValueError` naming the field, and so is anything that is not one
email address, before any connection is made.

Backends (made once per app, kept in ``app.extensions["mail"]``):

- ``"smtp"`` (the default without ``DEBUG``): one connection per batch, with
  STARTTLS (``MAIL_USE_TLS``) or implicit TLS (``MAIL_USE_SSL``), a login when
  ``MAIL_USERNAME`` is set, and a timeout; failures are :class:`MailError`.
- ``"console"`` (the default with ``DEBUG``): each message written to stdout.
- ``"memory"``: messages kept in :data:`outbox` (and the backend's own
  ``outbox``), for tests.
- ``"file"``: one ``.eml`` file per message in ``MAIL_FILE_PATH``.
- ``"null"``: messages checked, then dropped.
- ``"package.module:Class"``: a :class:`MailBackend` subclass of your own.

Only the standard library is used.
"""

from __future__ import annotations

import copy
import datetime
import email.policy
import functools
import importlib
import mimetypes
import os
import re
import secrets
import smtplib
import socket
import ssl
import sys
import threading
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate
from email.utils import getaddresses
from email.utils import make_msgid
from email.utils import parseaddr
from typing import TYPE_CHECKING
from typing import Any
from typing import TextIO

from .context import _current_app_or_none
from .exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from .app import Kettle

__all__ = (
    "Attachment",
    "ConsoleBackend",
    "FileBackend",
    "MailBackend",
    "MailError",
    "MemoryBackend",
    "Message",
    "NullBackend",
    "SMTPBackend",
    "get_backend",
    "outbox",
    "send_mail",
    "send_mail_async",
    "send_messages",
    "send_messages_async",
)

#: An attachment: ``(filename, content, mimetype)``. ``content`` is bytes, or a
#: string (sent as UTF-8); ``mimetype`` None is guessed from the filename
#: (``application/octet-stream`` when it cannot be).
Attachment = tuple[str, bytes | str, str | None]

#: Every message the ``"memory"`` backend of any app took, oldest first. It is
#: one list for the life of the process: empty it with ``outbox.clear()``
#: (never assign a new list) between tests.
outbox: list[Message] = []

# How messages are serialised for sending: headers RFC 2047-encoded, bodies
# 7-bit safe (quoted-printable or base64 when they are not ASCII), so that any
# SMTP server carries them unchanged.
_WIRE_POLICY = email.policy.default.clone(cte_type="7bit")
# How the console shows them: readable UTF-8 headers and text.
_READABLE_POLICY = email.policy.default.clone(utf8=True)

# Characters that end a line somewhere (str.splitlines, email parsers), and NUL.
_LINE_BREAKS = frozenset("\r\n\x00\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
_ADDR_SPEC = re.compile(r'[^\s@<>()\[\]\\,;:"]+@[\w-]+(?:\.[\w-]+)*')
_HEADER_NAME = re.compile(r"[!-9;-~]+")  # printable ASCII but ":"
_MIME_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*")
# Headers the message itself writes from its structure, never given as extras.
_RESERVED_HEADERS = frozenset(
    {
        "bcc",
        "content-disposition",
        "content-transfer-encoding",
        "content-type",
        "mime-version",
    }
)


class MailError(Exception):
    """Sending failed: the server could not be reached or broke off, or it
    refused the login, the sender or every recipient of a message.

    Attributes:
        sent: How many messages of the batch were sent before the failure.
    """

    def __init__(self, message: str, *, sent: int = 0) -> None:
        super().__init__(message)
        self.sent = sent


def _check_line(value: str, field: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{field} must be a string, not {type(value).__name__}")
    if not _LINE_BREAKS.isdisjoint(value):
        raise ValueError(
            f"{field} {value!r} contains a line break: refused (header injection)"
        )
    return value


def _parse_address(value: str, field: str) -> Address:
    """One address, ``"ann@example.org"`` or ``"Ann Lee <ann@example.org>"``."""
    _check_line(value, f"{field} address")
    name, addr = parseaddr(value)
    if (
        len(getaddresses([value])) != 1
        or not _ADDR_SPEC.fullmatch(addr)
        or addr not in value  # parseaddr dropped spaces or quotes from it
    ):
        raise ValueError(f"{field}: {value!r} is not an email address")
    try:
        return Address(display_name=name, addr_spec=addr)
    except (ValueError, IndexError) as exc:  # the stdlib's own parse disagrees
        raise ValueError(f"{field}: {value!r} is not an email address") from exc


def _address_list(value: str | Iterable[str], field: str) -> list[str]:
    """Addresses as a list; a single string is one address."""
    addresses = [value] if isinstance(value, str) else list(value)
    for address in addresses:
        _parse_address(address, field)
    return addresses


class Message:
    """An email message, ready to send with :func:`send_messages` (or its
    backend) or to turn into a standard :class:`~email.message.EmailMessage`.

    Addresses are ``"ann@example.org"`` or ``"Ann Lee <ann@example.org>"``; a
    single string may stand for a list of one. Everything is checked when the
    message is made and again when it is sent: a line break in the subject, an
    address or a header, or anything that is not one email address, is a
    :class:`ValueError` naming the field.

    Args:
        subject: One line of text.
        body: The plain-text body.
        to: The recipients shown in ``To``.
        from_email: The sender (default: the ``MAIL_DEFAULT_FROM`` setting).
        cc: The recipients shown in ``Cc``.
        bcc: Recipients not shown in any header.
        reply_to: Where replies go (``Reply-To``).
        html: An HTML version of the body: the message becomes
            ``multipart/alternative`` and mail clients show the HTML.
        headers: More headers (``{"X-Campaign": "spring"}``); one named like a
            header the message writes (``Date``, ``Message-ID``, ``To``...)
            replaces it. ``Bcc`` and the ``Content-*`` headers are refused.
        attachments: ``(filename, content, mimetype)`` tuples
            (:data:`Attachment`).
    """

    def __init__(
        self,
        subject: str,
        body: str,
        to: str | Iterable[str] = (),
        *,
        from_email: str | None = None,
        cc: str | Iterable[str] = (),
        bcc: str | Iterable[str] = (),
        reply_to: str | Iterable[str] = (),
        html: str | None = None,
        headers: Mapping[str, str] | None = None,
        attachments: Iterable[Attachment] = (),
    ) -> None:
        self.subject = _check_line(subject, "subject")
        self.body = _check_text(body, "body")
        self.to = _address_list(to, "to")
        self.cc = _address_list(cc, "cc")
        self.bcc = _address_list(bcc, "bcc")
        self.reply_to = _address_list(reply_to, "reply_to")
        if from_email is not None:
            _parse_address(from_email, "from_email")
        self.from_email = from_email
        self.html = None if html is None else _check_text(html, "html")
        self.headers: dict[str, str] = dict(headers or {})
        for name, value in self.headers.items():
            _check_header(name, value)
        self.attachments: list[Attachment] = []
        for attachment in attachments:
            self.attach(*attachment)

    def attach(
        self, filename: str, content: bytes | str, mimetype: str | None = None
    ) -> None:
        """Add an attachment (``mimetype`` None: guessed from ``filename``)."""
        _check_line(filename, "attachment filename")
        if not isinstance(content, bytes | str):
            raise TypeError(
                f"attachment {filename!r}: content must be bytes or str, "
                f"not {type(content).__name__}"
            )
        self.attachments.append((filename, content, mimetype))

    def recipients(self) -> list[str]:
        """The addresses the message is delivered to: those of ``to``, ``cc``
        and ``bcc``, each once (the SMTP envelope's)."""
        seen: dict[str, None] = {}
        for field in ("to", "cc", "bcc"):
            for address in self._addresses(field):
                seen.setdefault(_parse_address(address, field).addr_spec)
        return list(seen)

    def _addresses(self, field: str) -> list[str]:
        value = getattr(self, field)  # a list, or a string assigned since
        return [value] if isinstance(value, str) else list(value)

    def as_email(
        self,
        default_from: str | None = None,
        *,
        policy: email.policy.EmailPolicy[EmailMessage] | None = None,
    ) -> EmailMessage:
        """The message as a standard :class:`~email.message.EmailMessage`.

        Args:
            default_from: The sender when ``from_email`` is None (default: the
                current app's ``MAIL_DEFAULT_FROM``, or ``webmaster@localhost``
                outside an app).
            policy: How it is serialised (default: 7-bit safe, headers
                RFC 2047-encoded, as sent).

        Raises:
            ValueError: A field is not valid (named in the message), or there
                is no recipient.
        """
        sender = _parse_address(
            self.from_email or default_from or _default_from(), "from_email"
        )
        if not self.recipients():
            raise ValueError("the message has no recipient (to, cc or bcc)")
        msg = EmailMessage(policy=policy or _WIRE_POLICY)
        msg["Subject"] = _check_line(self.subject, "subject")
        msg["From"] = sender
        for header, field in (("To", "to"), ("Cc", "cc"), ("Reply-To", "reply_to")):
            addresses = self._addresses(field)
            if addresses:
                msg[header] = [_parse_address(a, field) for a in addresses]
        msg["Date"] = formatdate(localtime=True)
        msg["Message-ID"] = make_msgid(domain=_msgid_domain(sender.domain))
        for name, value in self.headers.items():
            _check_header(name, value)
            del msg[name]
            msg[name] = value
        msg.set_content(_check_text(self.body, "body"))
        if self.html is not None:
            msg.add_alternative(_check_text(self.html, "html"), subtype="html")
        for filename, content, mimetype in self.attachments:
            _add_attachment(
                msg, _check_line(filename, "attachment filename"), content, mimetype
            )
        return msg

    def __repr__(self) -> str:
        return f"<Message {self.subject!r} to {[*self.to, *self.cc, *self.bcc]!r}>"


def _check_text(value: str, field: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{field} must be a string, not {type(value).__name__}")
    return value


def _check_header(name: str, value: str) -> None:
    if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
        raise ValueError(f"headers: {name!r} is not a header name")
    if name.lower() in _RESERVED_HEADERS:
        raise ValueError(
            f"headers: {name} is written by the message itself and cannot be given"
        )
    _check_line(value, f"header {name}")


def _add_attachment(
    msg: EmailMessage, filename: str, content: bytes | str, mimetype: str | None
) -> None:
    if mimetype is None:
        mimetype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    maintype, _, subtype = mimetype.partition("/")
    if not _MIME_TOKEN.fullmatch(maintype) or not _MIME_TOKEN.fullmatch(subtype):
        raise ValueError(
            f"attachment {filename!r}: {mimetype!r} is not a MIME type "
            "('text/csv', 'application/pdf'...)"
        )
    if isinstance(content, str):
        if maintype == "text":
            msg.add_attachment(content, subtype=subtype, filename=filename)
            return
        content = content.encode()
    msg.add_attachment(content, maintype, subtype, filename=filename)


def _msgid_domain(domain: str) -> str:
    # The sender's domain, rather than a DNS lookup of this machine's name.
    return domain if domain and domain.isascii() else "localhost"


def _default_from() -> str:
    from .config import DEFAULTS

    app = _current_app_or_none()
    config = DEFAULTS if app is None else app.config
    return str(config.get("MAIL_DEFAULT_FROM") or "")


# -- backends ------------------------------------------------------------------------


class MailBackend:
    """The base of mail backends. A backend is made once per app, as
    ``Backend(app)``, and used from any thread: :meth:`send_messages` must be
    safe to call from several threads at once.

    Attributes:
        app: The app.
        default_from: The app's ``MAIL_DEFAULT_FROM``.
    """

    def __init__(self, app: Kettle) -> None:
        self.app = app
        self.default_from: str = app.config.get("MAIL_DEFAULT_FROM") or ""
        try:
            _parse_address(self.default_from, "MAIL_DEFAULT_FROM")
        except (TypeError, ValueError) as exc:
            raise ImproperlyConfigured(
                f"setting {exc} (such as 'Shop <shop@example.org>')"
            ) from None

    def send_messages(self, messages: Sequence[Message]) -> int:
        """Send ``messages``; how many were sent.

        ``message.as_email(self.default_from)`` gives each one as a standard
        email message, checked.
        """
        raise NotImplementedError


class NullBackend(MailBackend):
    """Checks messages, then drops them (``MAIL_BACKEND = "null"``)."""

    def send_messages(self, messages: Sequence[Message]) -> int:
        for message in messages:
            message.as_email(self.default_from)
        return len(messages)


class ConsoleBackend(MailBackend):
    """Writes each message, in full, to a stream (``MAIL_BACKEND = "console"``,
    the default in debug mode).

    Args:
        app: The app.
        stream: Where to write (default: ``sys.stdout`` at the time of writing).
    """

    def __init__(self, app: Kettle, stream: TextIO | None = None) -> None:
        super().__init__(app)
        self.stream = stream
        self._lock = threading.Lock()

    def send_messages(self, messages: Sequence[Message]) -> int:
        texts = [
            m.as_email(self.default_from, policy=_READABLE_POLICY)
            .as_bytes()
            .decode("utf-8", "replace")
            for m in messages
        ]
        with self._lock:
            stream = self.stream or sys.stdout
            for text in texts:
                stream.write(text.rstrip("\n") + "\n" + "-" * 79 + "\n")
            stream.flush()
        return len(texts)


class MemoryBackend(MailBackend):
    """Keeps messages in lists, for tests (``MAIL_BACKEND = "memory"``).

    Each message sent is checked as it would be for SMTP, copied with its
    ``from_email`` filled in, and appended to this backend's :attr:`outbox`
    and to the module's :data:`kettle.mail.outbox`.

    Attributes:
        outbox: The messages this app sent, oldest first.
    """

    def __init__(self, app: Kettle) -> None:
        super().__init__(app)
        self.outbox: list[Message] = []
        self._lock = threading.Lock()

    def send_messages(self, messages: Sequence[Message]) -> int:
        kept = []
        for message in messages:
            message.as_email(self.default_from)
            message = copy.deepcopy(message)
            message.from_email = message.from_email or self.default_from
            kept.append(message)
        with self._lock:
            self.outbox.extend(kept)
            outbox.extend(kept)
        return len(kept)


class FileBackend(MailBackend):
    """Writes each message to a new ``.eml`` file in ``MAIL_FILE_PATH``
    (relative to the app's folder), made if missing (``MAIL_BACKEND = "file"``).
    Files are named by time (to the microsecond) and a random part,
    ``20250131-235959-000123-3f9a1c0e.eml``, and hold what SMTP would send."""

    def __init__(self, app: Kettle) -> None:
        super().__init__(app)
        path = app.config.get("MAIL_FILE_PATH")
        if not path:
            raise ImproperlyConfigured(
                "MAIL_BACKEND = 'file' needs MAIL_FILE_PATH: the folder to write "
                ".eml files to"
            )
        self.path = os.path.join(app.root_path, os.fspath(path))
        try:
            os.makedirs(self.path, exist_ok=True)
        except OSError as exc:
            raise ImproperlyConfigured(
                f"MAIL_FILE_PATH {self.path!r} is not a folder Kettle can make: {exc}"
            ) from exc

    def send_messages(self, messages: Sequence[Message]) -> int:
        datas = [m.as_email(self.default_from).as_bytes() for m in messages]
        for data in datas:
            stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
            name = f"{stamp}-{secrets.token_hex(4)}.eml"
            with open(os.path.join(self.path, name), "xb") as file:
                file.write(data)
        return len(datas)


class SMTPBackend(MailBackend):
    """Sends through an SMTP server (``MAIL_BACKEND = "smtp"``, the default
    without debug): one connection per :meth:`send_messages` call, however many
    messages it has.

    Settings: ``MAIL_HOST``, ``MAIL_PORT``, ``MAIL_USERNAME`` and
    ``MAIL_PASSWORD`` (a login when the username is set), ``MAIL_USE_TLS``
    (STARTTLS), ``MAIL_USE_SSL`` (implicit TLS), ``MAIL_TIMEOUT`` (seconds, for
    connecting and for each reply). Server certificates are checked against the
    system's trusted authorities.
    """

    def __init__(self, app: Kettle) -> None:
        super().__init__(app)
        cfg = app.config
        self.host: str = str(cfg.get("MAIL_HOST") or "")
        if not self.host:
            raise ImproperlyConfigured("MAIL_HOST must name the SMTP server")
        self.port: int = cfg.get_int("MAIL_PORT")
        username = cfg.get("MAIL_USERNAME")
        self.username: str | None = str(username) if username else None
        self.password: str = str(cfg.get("MAIL_PASSWORD") or "")
        self.use_tls = bool(cfg.get("MAIL_USE_TLS"))
        self.use_ssl = bool(cfg.get("MAIL_USE_SSL"))
        if self.use_tls and self.use_ssl:
            raise ImproperlyConfigured(
                "MAIL_USE_TLS (STARTTLS, usually port 587) and MAIL_USE_SSL "
                "(implicit TLS, usually port 465) cannot both be on: choose one"
            )
        self.timeout = _timeout(cfg.get("MAIL_TIMEOUT"))
        self.ssl_context: ssl.SSLContext | None = (
            ssl.create_default_context() if self.use_tls or self.use_ssl else None
        )

    def open(self) -> smtplib.SMTP:
        """A connection to the server, secured and logged in as configured.

        Raises:
            MailError: It could not be made.
        """
        try:
            return self._connect()
        except (smtplib.SMTPException, OSError) as exc:
            raise self._error(exc, 0) from exc

    def _connect(self) -> smtplib.SMTP:
        hostname = _local_hostname()
        smtp: smtplib.SMTP
        if self.use_ssl:
            smtp = smtplib.SMTP_SSL(
                self.host,
                self.port,
                local_hostname=hostname,
                timeout=self.timeout,
                context=self.ssl_context,
            )
        else:
            smtp = smtplib.SMTP(
                self.host, self.port, local_hostname=hostname, timeout=self.timeout
            )
        try:
            if self.use_tls:
                smtp.starttls(context=self.ssl_context)
            if self.username:
                smtp.login(self.username, self.password)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send_messages(self, messages: Sequence[Message]) -> int:
        # Every message is checked before connecting: a bad one sends none.
        batch = [
            (
                m.as_email(self.default_from),
                _parse_address(m.from_email or self.default_from, "from_email"),
                m.recipients(),
            )
            for m in messages
        ]
        if not batch:
            return 0
        smtp = self.open()
        sent = 0
        try:
            for msg, sender, recipients in batch:
                smtp.send_message(msg, sender.addr_spec, recipients)
                sent += 1
        except (smtplib.SMTPException, OSError) as exc:
            smtp.close()
            raise self._error(exc, sent) from exc
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()  # sent already: a goodbye that fails changes nothing
        return sent

    def _error(self, exc: BaseException, sent: int) -> MailError:
        done = f" ({sent} sent before)" if sent else ""
        return MailError(
            f"mail through {self.host}:{self.port} failed: {_reason(exc)}{done}",
            sent=sent,
        )


def _reason(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = ", ".join(
            f"{address} ({code} {_text(text)})"
            for address, (code, text) in exc.recipients.items()
        )
        return f"every recipient was refused: {refused}"
    if isinstance(exc, smtplib.SMTPResponseException):
        what = {
            smtplib.SMTPAuthenticationError: "the login was refused",
            smtplib.SMTPSenderRefused: "the sender was refused",
        }.get(type(exc), "the server answered")
        return f"{what}: {exc.smtp_code} {_text(exc.smtp_error)}"
    cause: BaseException | None = exc
    while cause is not None:  # smtplib turns a timeout into "disconnected"
        if isinstance(cause, TimeoutError):
            return "no answer in time (MAIL_TIMEOUT)"
        cause = cause.__cause__ or cause.__context__
    return str(exc) or type(exc).__name__


def _text(value: bytes | str) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def _timeout(value: Any) -> float:
    try:
        timeout = float(value)
    except (TypeError, ValueError):
        timeout = 0.0
    if isinstance(value, bool) or not timeout > 0:
        raise ImproperlyConfigured(
            f"setting MAIL_TIMEOUT must be a number of seconds > 0, not {value!r}"
        )
    return timeout


@functools.cache
def _local_hostname() -> str:
    # The name given in EHLO; looked up once, not at every connection.
    return socket.getfqdn() or "localhost"


_BACKENDS: dict[str, type[MailBackend]] = {
    "smtp": SMTPBackend,
    "console": ConsoleBackend,
    "memory": MemoryBackend,
    "file": FileBackend,
    "null": NullBackend,
}


def _backend_class(setting: Any) -> type[MailBackend]:
    if isinstance(setting, type) and issubclass(setting, MailBackend):
        return setting
    if not isinstance(setting, str) or not setting:
        raise ImproperlyConfigured(
            f"MAIL_BACKEND must be a backend name or a 'package.module:Class' "
            f"path, not {setting!r}"
        )
    known = _BACKENDS.get(setting)
    if known is not None:
        return known
    if ":" in setting:
        module_name, _, attr = setting.partition(":")
    else:
        module_name, _, attr = setting.rpartition(".")
    if not module_name or not attr:
        raise ImproperlyConfigured(
            f"MAIL_BACKEND {setting!r} is not one Kettle knows: use "
            + ", ".join(repr(n) for n in _BACKENDS)
            + ", or a 'package.module:Class' path to your own"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ImproperlyConfigured(
            f"MAIL_BACKEND {setting!r}: cannot import {module_name!r}: {exc}"
        ) from exc
    found = getattr(module, attr, None)
    if not (isinstance(found, type) and issubclass(found, MailBackend)):
        raise ImproperlyConfigured(
            f"MAIL_BACKEND {setting!r}: {module_name}.{attr} is not a subclass "
            "of kettle.mail.MailBackend"
            + (" (it does not exist)" if found is None else "")
        )
    return found


def _make_backend(app: Kettle) -> MailBackend:
    setting = app.config.get("MAIL_BACKEND")
    if setting is None:
        setting = "console" if app.debug else "smtp"
    return _backend_class(setting)(app)


def get_backend(app: Kettle | None = None) -> MailBackend:
    """The app's mail backend (``MAIL_BACKEND``), made on first use and kept
    in ``app.extensions["mail"]``.

    Args:
        app: The app (default: :data:`kettle.current_app`).

    Raises:
        ImproperlyConfigured: The mail settings are wrong.
    """
    from .helpers import extension

    return extension(_app(app), "mail", _make_backend)


def _app(app: Kettle | None) -> Kettle:
    found = app if app is not None else _current_app_or_none()
    if found is None:
        raise RuntimeError(
            "sending mail needs an app: pass app=..., or send during a request "
            "or inside 'with app.app_context():'"
        )
    return found


# -- sending -------------------------------------------------------------------------


def send_messages(messages: Iterable[Message], app: Kettle | None = None) -> int:
    """Send ``messages`` through the app's backend (with SMTP, over one
    connection); how many were sent. Blocks: in ``async`` code use
    :func:`send_messages_async`.

    Args:
        messages: The messages.
        app: The app (default: :data:`kettle.current_app`).

    Raises:
        ValueError: A message is not valid (nothing is sent).
        MailError: Sending failed (``exc.sent`` went before).
        ImproperlyConfigured: The mail settings are wrong.
    """
    batch = list(messages)
    backend = get_backend(app)
    if not batch:
        return 0
    return backend.send_messages(batch)


def send_mail(
    subject: str,
    body: str,
    to: str | Iterable[str],
    *,
    html: str | None = None,
    from_email: str | None = None,
    app: Kettle | None = None,
    cc: str | Iterable[str] = (),
    bcc: str | Iterable[str] = (),
    reply_to: str | Iterable[str] = (),
    headers: Mapping[str, str] | None = None,
    attachments: Iterable[Attachment] = (),
) -> int:
    """Send one message (the arguments are :class:`Message`'s); 1 when it was
    sent. Blocks: in ``async`` code use :func:`send_mail_async`.

    Raises:
        ValueError: The message is not valid.
        MailError: Sending failed.
        ImproperlyConfigured: The mail settings are wrong.
    """
    message = Message(
        subject,
        body,
        to,
        from_email=from_email,
        cc=cc,
        bcc=bcc,
        reply_to=reply_to,
        html=html,
        headers=headers,
        attachments=attachments,
    )
    return send_messages([message], app)


async def send_messages_async(
    messages: Iterable[Message], app: Kettle | None = None
) -> int:
    """:func:`send_messages` in Kettle's thread pool: the event loop keeps
    serving while the server answers."""
    from .concurrency import run_in_threadpool

    return await run_in_threadpool(send_messages, list(messages), _app(app))


async def send_mail_async(
    subject: str,
    body: str,
    to: str | Iterable[str],
    *,
    html: str | None = None,
    from_email: str | None = None,
    app: Kettle | None = None,
    cc: str | Iterable[str] = (),
    bcc: str | Iterable[str] = (),
    reply_to: str | Iterable[str] = (),
    headers: Mapping[str, str] | None = None,
    attachments: Iterable[Attachment] = (),
) -> int:
    """:func:`send_mail` in Kettle's thread pool (a bad message raises
    ``ValueError`` at once, before the pool)."""
    message = Message(
        subject,
        body,
        to,
        from_email=from_email,
        cc=cc,
        bcc=bcc,
        reply_to=reply_to,
        html=html,
        headers=headers,
        attachments=attachments,
    )
    return await send_messages_async([message], app)
