"""Bearer tokens for JSON APIs: ``Authorization: Bearer kt_...``.

A token is shown once, when it is issued; the database keeps only its SHA-256
(a copy of the table gives no usable token). Each has an optional expiry and
can be revoked. A request that sends one is authenticated as the token's user,
with no session cookie (so no CSRF token is needed: browsers never send an
``Authorization`` header by themselves).
"""

from __future__ import annotations

import datetime
import hashlib
import secrets
from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy import func
from sqlalchemy import inspect
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from ..db.model import Model
from ..exceptions import HTTPException
from .models import User

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.orm import Session

__all__ = ("PREFIX", "Token", "issue_token", "revoke_token", "revoke_tokens")

#: What every token starts with (secret scanners can look for it).
PREFIX = "kt_"
#: How often a token's ``last_used_at`` is written (not on every request).
_TOUCH_EVERY = datetime.timedelta(minutes=1)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _aware(value: datetime.datetime | None) -> datetime.datetime | None:
    """A time read back from the database, in UTC (SQLite gives no zone)."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=datetime.UTC)
    return value


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class Token(Model):
    """An API token of a user (table ``auth_token``)."""

    __tablename__ = "auth_token"
    __repr_attrs__ = ("name", "prefix")

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("auth_user.id", ondelete="CASCADE"), index=True
    )
    #: What the user called it ("deploy script").
    name: Mapped[str] = mapped_column(String(100), default="")
    #: The SHA-256 of the token, hex.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The token's first characters, to tell tokens apart in a list.
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime.datetime] = mapped_column(
        DateTime(timezone=True), default=_now, server_default=func.now()
    )
    expires_at: Mapped[datetime.datetime | None] = mapped_column(
        DateTime(timezone=True), default=None
    )
    last_used_at: Mapped[datetime.datetime | None] = mapped_column(
        DateTime(timezone=True), default=None
    )
    revoked_at: Mapped[datetime.datetime | None] = mapped_column(
        DateTime(timezone=True), default=None
    )

    def is_valid(self, now: datetime.datetime | None = None) -> bool:
        """Neither revoked nor expired."""
        now = now or _now()
        expires = _aware(self.expires_at)
        return self.revoked_at is None and (expires is None or expires > now)


def issue_token(
    db: Session,
    user: User,
    *,
    name: str = "",
    expires_in: datetime.timedelta | None = datetime.timedelta(days=30),
) -> str:
    """Make a token for ``user`` and return it: the only time it is seen
    (store it on the client). ``expires_in`` None: it never expires. Saved
    with the session's commit. From an ``AsyncSession``:
    ``await db.run_sync(issue_token, user)``."""
    if inspect(user).key is None:  # not flushed yet: no id
        db.add(user)
        db.flush()
    secret = PREFIX + secrets.token_urlsafe(32)
    expires = _now() + expires_in if expires_in is not None else None
    db.add(
        Token(
            user_id=user.id,
            name=name[:100],
            key_hash=_digest(secret),
            prefix=secret[:12],
            expires_at=expires,
        )
    )
    return secret


def revoke_token(db: Session, token: str | Token) -> bool:
    """Revoke a token (given as issued, or its row); whether it existed."""
    row: Token | None
    if isinstance(token, str):
        row = db.scalars(select(Token).where(Token.key_hash == _digest(token))).first()
    else:
        row = token
    if row is None:
        return False
    if row.revoked_at is None:
        row.revoked_at = _now()
    return True


def revoke_tokens(db: Session, user: User) -> int:
    """Revoke every token of ``user`` (a password reset, say); how many."""
    done = db.execute(
        update(Token)
        .where(Token.user_id == user.id, Token.revoked_at.is_(None))
        .values(revoked_at=_now())
    )
    return int(getattr(done, "rowcount", 0) or 0)


# -- authenticating a request ------------------------------------------------------


def bearer(conn: Any) -> str | None:
    """The request's bearer token, if it sent one."""
    value: str | None = conn.headers.get("authorization")
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip()


def invalid_token() -> HTTPException:
    return HTTPException(
        401,
        "The bearer token is invalid, expired or revoked.",
        headers={"www-authenticate": 'Bearer realm="kettle", error="invalid_token"'},
    )


def _statement(model: type[User], token: str) -> Any:
    return (
        select(model, Token)
        .join(Token, Token.user_id == model.id)
        .where(Token.key_hash == _digest(token))
        .limit(1)
    )


def _checked(found: Any) -> tuple[User, Token]:
    if found is None:
        raise invalid_token()
    user, row = found
    if not row.is_valid() or not user.is_active:
        raise invalid_token()
    return user, row


def _touch(row: Token) -> Any:
    """The statement recording that ``row`` was used, when it was not in the
    last minute (else None)."""
    now = _now()
    last = _aware(row.last_used_at)
    if last is not None and now - last < _TOUCH_EVERY:
        return None
    row_id = row.id
    return update(Token).where(Token.id == row_id).values(last_used_at=now)


def user_for_token(db: Session, model: type[User], token: str) -> User:
    """The user ``token`` authenticates.

    Raises:
        HTTPException: 401, the token is unknown, expired or revoked, or its
            user inactive.
    """
    if not token.startswith(PREFIX) or len(token) > 100:
        raise invalid_token()
    user, row = _checked(db.execute(_statement(model, token)).first())
    touch = _touch(row)
    if touch is not None:
        db.execute(touch)
    return user


async def user_for_token_async(db: AsyncSession, model: type[User], token: str) -> User:
    """:func:`user_for_token` through an ``AsyncSession``."""
    if not token.startswith(PREFIX) or len(token) > 100:
        raise invalid_token()
    user, row = _checked((await db.execute(_statement(model, token))).first())
    touch = _touch(row)
    if touch is not None:
        await db.execute(touch)
    return user
