"""Two-factor login: a code from an authenticator app (TOTP) after the
password, or one of the user's single-use recovery codes.

A user with ``totp_secret`` set is not logged in by the password alone: the
session only remembers, for five minutes and five tries, who is half way
through, and the login ends at ``/auth/two-factor``. A member of a group with
``requires_two_factor`` who has no authenticator yet is sent to
``/auth/two-factor/setup`` instead, and logged in once it is set up.
"""

from __future__ import annotations

import hmac
import time
from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy import delete
from sqlalchemy import exists
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm.attributes import set_committed_value

from . import totp
from .core import _secret
from .core import user_model
from .models import Group
from .models import RecoveryCode
from .models import User
from .models import user_groups

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ..requests import HTTPConnection

__all__ = (
    "disable",
    "enable",
    "needs_second_factor",
    "new_recovery_codes",
    "verify_code",
)

PENDING = "_auth_2fa_pending"
SETUP_SECRET = "_auth_2fa_secret"  # noqa: S105 - a session key
#: Seconds a half-done login waits for its second factor.
PENDING_FOR = 300
#: Wrong codes before the password must be given again.
MAX_TRIES = 5


def needs_second_factor(db: Session, user: User) -> str | None:
    """``"verify"`` when ``user`` logs in with a code, ``"setup"`` when a group
    of theirs requires one they have not set up, else None."""
    if user.totp_secret:
        return "verify"
    required = db.scalar(
        select(
            exists().where(
                user_groups.c.user_id == user.id,
                user_groups.c.group_id == Group.id,
                Group.requires_two_factor.is_(True),
            )
        )
    )
    return "setup" if required else None


def begin(
    conn: HTTPConnection,
    user: User,
    kind: str,
    *,
    remember: bool,
    next_url: str,
    name: str = "",
) -> None:
    """Remember that ``user`` gave the right password and now owes a second
    factor (``kind``: ``"verify"`` or ``"setup"``)."""
    session = conn.session
    session.clear()
    session.rotate()
    session[PENDING] = {
        "id": user.id,
        "kind": kind,
        "hash": user.session_auth_hash(_secret(conn.app)),
        "remember": remember,
        "next": next_url,
        "name": name,
        "at": int(time.time()),
        "tries": 0,
    }


def pending(conn: HTTPConnection, db: Session, kind: str) -> User | None:
    """The user half way through a login of ``kind``, if still in time and
    unchanged (a password change cancels it)."""
    data = conn.session.get(PENDING)
    if not isinstance(data, dict) or data.get("kind") != kind:
        return None
    started, uid = data.get("at"), data.get("id")
    if type(started) is not int or type(uid) is not int or not 0 < uid < 2**63:
        conn.session.pop(PENDING, None)  # not what begin() stores
        return None
    age = time.time() - started
    if not 0 <= age <= PENDING_FOR * (3 if kind == "setup" else 1):
        conn.session.pop(PENDING, None)
        return None
    user = db.get(user_model(conn.app), uid)
    if user is not None and kind == "setup" and user.totp_secret:
        user = None  # set up meanwhile: the code is asked for instead
    expected = user.session_auth_hash(_secret(conn.app)) if user else ""
    if (
        user is None
        or not user.is_active
        or not hmac.compare_digest(str(data.get("hash", "")), expected)
    ):
        conn.session.pop(PENDING, None)
        return None
    return user


def failed_try(conn: HTTPConnection) -> bool:
    """Count a wrong code; True when the tries are used up (the half-done
    login is dropped: the password must be given again)."""
    data = conn.session.get(PENDING)
    data = dict(data) if isinstance(data, dict) else {}
    tries = data.get("tries")
    data["tries"] = (tries if type(tries) is int else MAX_TRIES) + 1
    if data["tries"] >= MAX_TRIES:
        conn.session.pop(PENDING, None)
        return True
    conn.session[PENDING] = data
    return False


def finish(conn: HTTPConnection) -> tuple[bool, str, str]:
    """End the half-done login: its "remember me", where to go next, and the
    name it was started with."""
    data = conn.session.pop(PENDING, None)
    if not isinstance(data, dict):
        data = {}
    return (
        bool(data.get("remember")),
        str(data.get("next") or ""),
        str(data.get("name") or ""),
    )


def verify_code(db: Session, user: User, code: str) -> bool:
    """Whether ``code`` is the user's current TOTP code (each good once, also
    against a concurrent request) or one of their recovery codes (then used
    up)."""
    if not isinstance(code, str) or len(code) > 64:
        return False
    secret = user.totp_secret
    if secret:
        step = totp.verify(secret, code, last_used_step=user.totp_last_step)
        if step is not None:
            model = type(user)
            done = db.execute(
                update(model)
                .where(
                    model.id == user.id,
                    or_(model.totp_last_step.is_(None), model.totp_last_step < step),
                )
                .values(totp_last_step=step)
                .execution_options(synchronize_session=False)
            )
            if getattr(done, "rowcount", 0) == 1:
                set_committed_value(user, "totp_last_step", step)
                return True
            return False
    rows = db.execute(
        select(RecoveryCode.id, RecoveryCode.code_hash).where(
            RecoveryCode.user_id == user.id
        )
    ).all()
    matched = totp.match_recovery_code(code, [h for _, h in rows])
    if matched is None:
        return False
    row_id = next(i for i, h in rows if h == matched)
    done = db.execute(delete(RecoveryCode).where(RecoveryCode.id == row_id))
    return getattr(done, "rowcount", 0) == 1


def new_recovery_codes(db: Session, user: User, count: int = 10) -> list[str]:
    """Replace the user's recovery codes with ``count`` new ones, returned to
    be shown once (only their hashes are kept)."""
    db.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = totp.new_recovery_codes(count)
    db.add_all(
        RecoveryCode(user_id=user.id, code_hash=totp.hash_recovery_code(c))
        for c in codes
    )
    return codes


def enable(db: Session, user: User, secret: str, code: str) -> list[str] | None:
    """Turn two-factor login on with ``secret`` once ``code`` proves the
    authenticator has it; the new recovery codes, or None for a wrong code."""
    try:
        step = totp.verify(secret, code)
    except ValueError:
        return None
    if step is None:
        return None
    user.totp_secret = secret
    user.totp_last_step = step
    return new_recovery_codes(db, user)


def disable(db: Session, user: User) -> None:
    """Turn two-factor login off for ``user`` (and drop their recovery
    codes)."""
    user.totp_secret = None
    user.totp_last_step = None
    db.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))


def setup_secret(conn: HTTPConnection) -> str:
    """The secret being set up in this session (made on first use)."""
    secret = conn.session.get(SETUP_SECRET)
    if not isinstance(secret, str):
        secret = conn.session[SETUP_SECRET] = totp.new_secret()
    return secret


def _issuer(conn: HTTPConnection) -> str:
    name: Any = conn.app.config.get("AUTH_TOTP_ISSUER") or conn.url.hostname
    return str(name or "Kettle").replace(":", " ")
