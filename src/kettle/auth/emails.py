"""Links sent by email: password reset and email confirmation.

A link carries a token signed with ``SECRET_KEY`` (itsdangerous) that holds
the user's id, a digest of what the link is about to change, and its time:

- a reset link stops working once the password changes or the user logs in,
  and after ``PASSWORD_RESET_TIMEOUT`` seconds;
- a confirmation link stops working once the address is confirmed or changed,
  and after ``EMAIL_CONFIRM_TIMEOUT`` seconds.

So each link works once, and nothing about it is stored on the server.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import logging
from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy import func
from sqlalchemy import select

from .core import user_model
from .models import User

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ..requests import HTTPConnection

__all__ = (
    "confirm_email",
    "make_token",
    "read_token",
    "send_confirmation",
    "send_password_reset",
)

log = logging.getLogger("kettle.auth")
RESET = "password-reset"
CONFIRM = "email-confirm"
_TIMEOUTS = {RESET: "PASSWORD_RESET_TIMEOUT", CONFIRM: "EMAIL_CONFIRM_TIMEOUT"}


def _serializer(app: Any, purpose: str) -> Any:
    from itsdangerous import URLSafeTimedSerializer

    cfg = app.config
    key = cfg.get("SECRET_KEY")
    if not key:
        from ..exceptions import ImproperlyConfigured

        raise ImproperlyConfigured("links sent by email are signed with SECRET_KEY")
    keys = [*(cfg.get("SECRET_KEY_FALLBACKS") or ()), key]
    return URLSafeTimedSerializer(keys, salt=f"kettle.auth.{purpose}")


def _state(user: User, purpose: str) -> str:
    """A digest of what using the link changes: the link is good while it is
    the same."""
    if purpose == RESET:
        login = user.last_login.timestamp() if user.last_login else ""
        parts = f"{user.password}|{login}|{user.is_active}"
    else:
        confirmed = user.email_confirmed_at is not None
        parts = f"{user.email.lower()}|{confirmed}|{user.is_active}"
    return hashlib.sha256(parts.encode()).hexdigest()[:32]


def make_token(app: Any, user: User, purpose: str) -> str:
    """A signed token for ``user`` (``purpose``: ``"password-reset"`` or
    ``"email-confirm"``)."""
    return str(_serializer(app, purpose).dumps([user.id, _state(user, purpose)]))


def read_token(db: Session, app: Any, token: str, purpose: str) -> User | None:
    """The active user a token was made for, if it is genuine, not expired,
    and not used yet; else None."""
    from itsdangerous import BadSignature

    max_age = int(app.config.get(_TIMEOUTS[purpose]) or 0)
    if not isinstance(token, str) or len(token) > 500:
        return None
    try:
        data = _serializer(app, purpose).loads(token, max_age=max_age)
    except BadSignature:  # tampered with, or expired (SignatureExpired)
        return None
    if not (isinstance(data, list) and len(data) == 2):
        return None
    uid, state = data
    if not isinstance(uid, int) or not isinstance(state, str):
        return None
    user = db.get(user_model(app), uid)
    if user is None or not user.is_active:
        return None
    if not hmac.compare_digest(state, _state(user, purpose)):
        return None
    return user


def _message(
    conn: HTTPConnection, user: User, purpose: str, subject: str, url: str
) -> Any:
    from ..mail import Message
    from ..templating import render_to_string

    timeout = int(conn.app.config.get(_TIMEOUTS[purpose]) or 0)
    body = render_to_string(
        f"auth/email/{purpose}.txt",
        user=user,
        url=url,
        valid_hours=max(1, round(timeout / 3600)),
    )
    return Message(subject, body, [user.email])


_sender: Any = None


def _deliver(app: Any, messages: list[Any]) -> None:
    """Send ``messages``; over SMTP in a background thread, so that the time
    of the answer does not tell whether an account had mail sent to it."""
    from ..mail import SMTPBackend
    from ..mail import get_backend
    from ..mail import send_messages

    if not messages:
        return
    if not isinstance(get_backend(app), SMTPBackend):
        send_messages(messages, app=app)
        return
    global _sender
    if _sender is None:
        from concurrent.futures import ThreadPoolExecutor

        _sender = ThreadPoolExecutor(2, thread_name_prefix="kettle-auth-mail")

    def send() -> None:
        try:
            send_messages(messages, app=app)
        except Exception:
            log.exception("sending %d account email(s) failed", len(messages))

    _sender.submit(send)


def _external(conn: HTTPConnection, endpoint: str, token: str) -> str:
    from ..helpers import url_for

    return str(url_for(endpoint, token=token, _external=True))


def send_password_reset(conn: HTTPConnection, db: Session, email: str) -> int:
    """Email a reset link to every active user with the address ``email``
    (and a usable password); how many were sent. The caller's answer must not
    depend on it, or it would tell who has an account."""
    model = user_model(conn.app)
    address = email.strip().lower()
    if not address:
        return 0
    if _too_many(conn, address):
        return 0  # the answer stays the same; no more mail is sent
    users = db.scalars(
        select(model).where(func.lower(model.email) == address, model.is_active)
    ).all()
    messages = []
    for user in users:
        if not user.has_usable_password():
            continue
        token = make_token(conn.app, user, RESET)
        url = _external(conn, "auth.password_reset_confirm", token)
        messages.append(_message(conn, user, RESET, "Reset your password", url))
    _deliver(conn.app, messages)
    return len(messages)


def _too_many(conn: HTTPConnection, address: str) -> bool:
    """Whether reset links were asked for too often, for this address
    (``AUTH_RESET_RATE_EMAIL``) or from this client
    (``AUTH_RESET_RATE_ADDRESS``): a mailbox is not flooded."""
    from ..ratelimit import client_address
    from ..ratelimit import get_limiter

    cfg = conn.app.config
    limiter = get_limiter(conn.app)
    for name, key, rate in (
        ("kettle.auth.reset.email", address, cfg.get("AUTH_RESET_RATE_EMAIL")),
        (
            "kettle.auth.reset.address",
            client_address(conn),
            cfg.get("AUTH_RESET_RATE_ADDRESS"),
        ),
    ):
        if rate and not limiter.hit(name, key[:254], rate).allowed:
            return True
    return False


def send_confirmation(conn: HTTPConnection, user: User) -> None:
    """Email ``user`` a link that confirms their address (after they
    registered or changed it)."""
    token = make_token(conn.app, user, CONFIRM)
    url = _external(conn, "auth.confirm_email", token)
    message = _message(conn, user, CONFIRM, "Confirm your email address", url)
    _deliver(conn.app, [message])


def confirm_email(db: Session, app: Any, token: str) -> User | None:
    """Mark the address of the token's user confirmed; the user, or None for a
    bad, expired or used link."""
    user = read_token(db, app, token, CONFIRM)
    if user is not None:
        user.email_confirmed_at = datetime.datetime.now(datetime.UTC)
    return user
