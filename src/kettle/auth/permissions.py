"""Permissions: per-model ``view``/``add``/``change``/``delete`` codes plus custom
ones, granted to users and groups, and read once per request.

A permission's code is ``"<model>.<action>"``, the model named by its table
(``Post`` in table ``post``: ``"post.change"``). A model declares more actions
in ``__permissions__``::

    class Post(Model):
        __permissions__ = {"publish": "Can publish posts"}   # "post.publish"

``grant(db, user_or_group, "post.change")`` refuses a code no model declares (a
typo would otherwise fail silently); :func:`register_permission` declares one
that belongs to no model.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy import select
from sqlalchemy import union

from ..db.model import Model
from .models import Group
from .models import Permission
from .models import User
from .models import group_permissions
from .models import user_groups
from .models import user_permissions

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.orm import Session

__all__ = (
    "DEFAULT_ACTIONS",
    "grant",
    "known_permissions",
    "load_permissions",
    "load_permissions_async",
    "model_permissions",
    "register_permission",
    "revoke",
)

#: The actions every model has a permission for.
DEFAULT_ACTIONS = ("view", "add", "change", "delete")
_registered: dict[str, str] = {}


def model_permissions(model: type[Any]) -> dict[str, str]:
    """``{code: description}`` of ``model``'s permissions: the four default
    actions, then those of its ``__permissions__``."""
    table = model.__table__.name
    label = model.__name__.lower()
    codes = {f"{table}.{a}": f"Can {a} {label}" for a in DEFAULT_ACTIONS}
    for action, name in (getattr(model, "__permissions__", None) or {}).items():
        codes[f"{table}.{action}"] = name
    return codes


def register_permission(codename: str, name: str = "") -> None:
    """Declare a permission that belongs to no model (``"reports.export"``)."""
    app_label, dot, action = codename.partition(".")
    if not (app_label and dot and action) or len(codename) > 100:
        raise ValueError(
            f"permission code {codename!r} must look like 'name.action' "
            "(at most 100 characters)"
        )
    _registered[codename] = name or codename


def known_permissions() -> dict[str, str]:
    """Every permission code declared: by each model of ``kettle.db.Model``
    and by :func:`register_permission`."""
    known: dict[str, str] = {}
    for mapper in Model.registry.mappers:
        cls = mapper.class_
        if mapper.local_table is not None and not mapper.inherits:
            known.update(model_permissions(cls))
    known.update(_registered)
    return known


def _permission(db: Session, codename: str, known: dict[str, str]) -> Permission:
    found = db.scalars(select(Permission).filter_by(codename=codename)).first()
    if found is None:
        found = Permission(codename=codename, name=known[codename])
        db.add(found)
    return found


def _check(codenames: Iterable[str]) -> tuple[list[str], dict[str, str]]:
    codes = list(codenames)
    known = known_permissions()
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise ValueError(
            f"unknown permission(s) {', '.join(map(repr, unknown))}: a code is "
            "'<table>.<action>', the action one of view, add, change, delete or "
            "the model's __permissions__ (or declare it with "
            "register_permission())"
        )
    return codes, known


def grant(db: Session, target: User | Group, *codenames: str) -> None:
    """Give ``target`` (a user or group) the permissions ``codenames``; saved
    with the session's commit. From an ``AsyncSession``:
    ``await db.run_sync(grant, user, "post.change")``.

    Raises:
        ValueError: A code no model or :func:`register_permission` declares.
    """
    codes, known = _check(codenames)
    held = {p.codename for p in target.permissions}
    for code in codes:
        if code not in held:
            target.permissions.append(_permission(db, code, known))
            held.add(code)
    _forget(target)


def revoke(db: Session, target: User | Group, *codenames: str) -> None:
    """Take the permissions ``codenames`` from ``target`` (those it holds
    through a group stay)."""
    codes = set(codenames)
    target.permissions[:] = [p for p in target.permissions if p.codename not in codes]
    _forget(target)


def _forget(target: User | Group) -> None:
    if isinstance(target, User):
        vars(target).pop("_kettle_permissions", None)  # read again when asked


def _codes_of(user_id: Any) -> Any:
    direct = (
        select(Permission.codename)
        .join(user_permissions, user_permissions.c.permission_id == Permission.id)
        .where(user_permissions.c.user_id == user_id)
    )
    via_groups = (
        select(Permission.codename)
        .join(group_permissions, group_permissions.c.permission_id == Permission.id)
        .join(user_groups, user_groups.c.group_id == group_permissions.c.group_id)
        .where(user_groups.c.user_id == user_id)
    )
    return union(direct, via_groups)


def load_permissions(user: User, db: Session | None = None) -> frozenset[str]:
    """Read the codes of every permission ``user`` holds (one query), and keep
    them on the object for the rest of the request."""
    if db is None:
        from sqlalchemy.orm import object_session

        db = object_session(user)
    if db is None:  # a detached user (get_user's): a session of its own
        from ..context import current_app
        from ..db import get_database

        with get_database(current_app._get_current_object()).session() as own:  # type: ignore[attr-defined]
            held = frozenset(own.scalars(_codes_of(user.id)))
    else:
        held = frozenset(db.scalars(_codes_of(user.id)))
    vars(user)["_kettle_permissions"] = held  # for the rest of the request
    return held


async def load_permissions_async(db: AsyncSession, user: User) -> frozenset[str]:
    """:func:`load_permissions` through an ``AsyncSession``."""
    held = frozenset((await db.scalars(_codes_of(user.id))).all())
    vars(user)["_kettle_permissions"] = held  # for the rest of the request
    return held
