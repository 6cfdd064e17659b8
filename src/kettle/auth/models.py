"""The tables of ``kettle.auth``: users, groups and permissions.

Importing this module adds them to :class:`kettle.db.Model`'s metadata, so
``kettle db makemigrations`` creates them with the app's own tables:

- ``auth_user``: :class:`User`;
- ``auth_group``: :class:`Group`, a named set of permissions;
- ``auth_permission``: :class:`Permission`, one row per permission granted to
  someone (``"post.change"``);
- ``auth_user_groups``, ``auth_group_permissions``, ``auth_user_permissions``:
  who is in which group, and which permissions a group or user holds directly.

An app extends the user by subclassing :class:`User` without a table name: the
subclass's columns are added to ``auth_user`` (SQLAlchemy's single-table
inheritance), and ``AUTH_USER_MODEL = "myapp.models:Member"`` makes Kettle load
users as that class.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
from typing import Any
from typing import ClassVar

from sqlalchemy import BigInteger
from sqlalchemy import Boolean
from sqlalchemy import Column
from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy import Table
from sqlalchemy import func
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import declared_attr
from sqlalchemy.orm import has_inherited_table
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from ..db.model import Model
from . import hashers

__all__ = (
    "AnonymousUser",
    "Group",
    "Permission",
    "RecoveryCode",
    "User",
    "group_permissions",
    "user_groups",
    "user_permissions",
)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _link_table(name: str, left: str, right: str) -> Table:
    """A many-to-many table of two ``auth_`` tables: its rows go with either."""
    return Table(
        name,
        Model.metadata,
        *(
            Column(
                f"{other}_id",
                ForeignKey(f"auth_{other}.id", ondelete="CASCADE"),
                primary_key=True,
            )
            for other in (left, right)
        ),
    )


user_groups = _link_table("auth_user_groups", "user", "group")
group_permissions = _link_table("auth_group_permissions", "group", "permission")
user_permissions = _link_table("auth_user_permissions", "user", "permission")


class Permission(Model):
    """A permission someone was granted, by its code: ``"<model>.<action>"``
    (``"post.change"``; the model is its table's name) or a custom one."""

    __tablename__ = "auth_permission"
    __repr_attrs__ = ("codename",)

    id: Mapped[int] = mapped_column(primary_key=True)
    codename: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(255), default="")

    def __str__(self) -> str:
        return self.codename


class Group(Model):
    """A named set of permissions; a user holds those of every group they are
    in."""

    __tablename__ = "auth_group"
    __repr_attrs__ = ("name",)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(150), unique=True)
    #: Its members must log in with a second factor.
    requires_two_factor: Mapped[bool] = mapped_column(Boolean, default=False)
    permissions: Mapped[list[Permission]] = relationship(secondary=group_permissions)

    def __str__(self) -> str:
        return self.name


class User(Model):
    """A user who can log in.

    The password is kept hashed (Argon2id; see :mod:`kettle.auth.hashers`):
    set it with :meth:`set_password`, never by assigning ``password``.
    ``is_active`` False refuses the login; ``is_staff`` opens the admin;
    ``is_superuser`` holds every permission.
    """

    __repr_attrs__ = ("username",)
    #: Columns never put in a generated form (the admin's, for one).
    __admin_secret__ = ("password", "totp_secret", "totp_last_step")

    @declared_attr.directive
    def __tablename__(cls) -> str:
        # A subclass adds its columns to this table (single-table inheritance).
        if has_inherited_table(cls):  # type: ignore[arg-type]
            return None  # type: ignore[return-value]
        return "auth_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    email: Mapped[str] = mapped_column(String(254), default="", index=True)
    password: Mapped[str] = mapped_column(String(255), default="")
    first_name: Mapped[str] = mapped_column(String(150), default="")
    last_name: Mapped[str] = mapped_column(String(150), default="")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_staff: Mapped[bool] = mapped_column(Boolean, default=False)
    is_superuser: Mapped[bool] = mapped_column(Boolean, default=False)
    last_login: Mapped[datetime.datetime | None] = mapped_column(
        DateTime(timezone=True), default=None
    )
    date_joined: Mapped[datetime.datetime] = mapped_column(
        DateTime(timezone=True), default=_now, server_default=func.now()
    )
    #: When the user proved the address is theirs (None: not yet).
    email_confirmed_at: Mapped[datetime.datetime | None] = mapped_column(
        DateTime(timezone=True), default=None
    )
    #: The base32 secret of their authenticator app (None: no two-factor).
    totp_secret: Mapped[str | None] = mapped_column(String(64), default=None)
    #: The time step of the last code accepted (a code is good once).
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger, default=None)
    groups: Mapped[list[Group]] = relationship(secondary=user_groups)
    permissions: Mapped[list[Permission]] = relationship(secondary=user_permissions)

    #: A logged-in user (:class:`AnonymousUser` says False).
    is_authenticated: ClassVar[bool] = True
    is_anonymous: ClassVar[bool] = False
    #: The columns a login form's name is looked up in, in order.
    LOGIN_FIELDS: ClassVar[tuple[str, ...]] = ("username", "email")

    def __init__(self, *, password: str | None = None, **values: Any) -> None:
        super().__init__(**values)
        if password is not None:
            self.set_password(password)

    def __str__(self) -> str:
        return self.username

    # -- passwords ----------------------------------------------------------------

    def set_password(self, raw: str | None) -> None:
        """Hash and keep ``raw`` (None: a password that never matches, for
        accounts that log in another way)."""
        if raw is None:
            self.password = hashers.make_unusable_password()
        else:
            self.password = hashers.hash_password(raw)

    def check_password(self, raw: str) -> bool:
        """Whether ``raw`` is the password. A hash of an older kind (Django's
        PBKDF2, bcrypt) or weaker parameters is replaced by an Argon2id one
        when it matches: saved with the session's next commit."""
        ok = hashers.check_password(raw, self.password)
        if ok and hashers.needs_rehash(self.password):
            self.password = hashers.hash_password(raw)
        return ok

    def has_usable_password(self) -> bool:
        return hashers.is_usable(self.password)

    def session_auth_hash(self, secret: str | bytes) -> str:
        """A digest of the password hash, kept in the session at login: when
        the password changes, every other session of the user ends."""
        key = secret.encode() if isinstance(secret, str) else secret
        return hmac.new(
            key, b"kettle.auth.session:" + self.password.encode(), hashlib.sha256
        ).hexdigest()

    # -- permissions --------------------------------------------------------------

    #: The codes of the user's permissions, once loaded (see
    #: :func:`kettle.auth.load_permissions`).
    _kettle_permissions: ClassVar[frozenset[str] | None] = None

    def has_perm(self, codename: str) -> bool:
        """Whether the user holds ``codename`` (directly, through a group, or as
        an active superuser). Inactive users hold nothing."""
        if not self.is_active:
            return False
        if self.is_superuser:
            return True
        return codename in self.get_all_permissions()

    def has_perms(self, codenames: Any) -> bool:
        """Whether the user holds every one of ``codenames``."""
        return all(self.has_perm(c) for c in codenames)

    def get_all_permissions(self) -> frozenset[str]:
        """The codes of every permission the user holds, read once per object
        (in an ``async def`` handler, ``await load_permissions_async(db, user)``
        first; ``permission_required`` does)."""
        held = self._kettle_permissions
        if held is None:
            from .permissions import load_permissions

            held = load_permissions(self)
        return held


class AnonymousUser:
    """The user of a request nobody logged in to: not authenticated, holds no
    permission. ``current_user`` in templates is one of these when no one is
    logged in."""

    id = None
    username = ""
    email = ""
    is_active = False
    is_staff = False
    is_superuser = False
    is_authenticated = False
    is_anonymous = True

    def has_perm(self, codename: str) -> bool:
        return False

    def has_perms(self, codenames: Any) -> bool:
        return False

    def get_all_permissions(self) -> frozenset[str]:
        return frozenset()

    def __bool__(self) -> bool:
        return False

    def __str__(self) -> str:
        return "AnonymousUser"

    def __repr__(self) -> str:
        return "<AnonymousUser>"


class RecoveryCode(Model):
    """One unused recovery code of a user's two-factor login (its salted
    hash; see :func:`kettle.auth.totp.hash_recovery_code`)."""

    __tablename__ = "auth_recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("auth_user.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(128))
