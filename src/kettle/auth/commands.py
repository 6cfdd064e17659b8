"""What ``kettle createuser`` and ``kettle changepassword`` do, without the
command line (so they can be called from scripts and tests)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import ProgrammingError

from ..exceptions import ImproperlyConfigured
from .core import user_model
from .models import User
from .validators import validate_password

__all__ = ("CommandError", "change_password", "create_user")


class CommandError(Exception):
    """A user-facing failure of a command (shown without a traceback)."""


def _validators(app: Any) -> Any:
    return app.config.get("AUTH_PASSWORD_VALIDATORS")


def check_new_password(app: Any, password: str, user: User | None) -> None:
    """Run the app's password validators (``AUTH_PASSWORD_VALIDATORS``).

    Raises:
        kettle.auth.PasswordInvalid: Every reason the password is refused.
    """
    validate_password(password, user, _validators(app))


def _no_table(exc: Exception) -> CommandError:
    return CommandError(
        f"the users' table cannot be read ({str(exc).splitlines()[0]}): "
        "create it with `kettle db makemigrations` and `kettle db migrate`"
    )


def create_user(
    app: Any,
    username: str,
    password: str | None,
    *,
    email: str = "",
    staff: bool = False,
    superuser: bool = False,
    validate: bool = True,
) -> User:
    """Create a user (``password`` None: one that cannot log in with a
    password). A superuser is staff too.

    Raises:
        CommandError: The name is taken or empty, or the table is missing.
        kettle.auth.PasswordInvalid: ``validate`` and the password is weak.
    """
    from ..db import get_database

    username = username.strip()
    if not username:
        raise CommandError("the user name is empty")
    model = user_model(app)
    user = model(
        username=username,
        email=email.strip(),
        is_staff=staff or superuser,
        is_superuser=superuser,
    )
    if password is not None and validate:
        check_new_password(app, password, user)
    user.set_password(password)
    try:
        with get_database(app).session() as db:
            taken = db.scalar(select(model.id).where(model.username == username))
            if taken is not None:
                raise CommandError(f"the user name {username!r} is taken")
            db.add(user)
            db.commit()
    except (OperationalError, ProgrammingError) as exc:
        raise _no_table(exc) from None
    except ImproperlyConfigured as exc:
        raise CommandError(str(exc)) from None
    return user


def change_password(
    app: Any, username: str, password: str, *, validate: bool = True
) -> None:
    """Set the password of the user ``username`` (their sessions end).

    Raises:
        CommandError: No such user, or the table is missing.
        kettle.auth.PasswordInvalid: ``validate`` and the password is weak.
    """
    from ..db import get_database

    model = user_model(app)
    try:
        with get_database(app).session() as db:
            user = db.scalars(select(model).where(model.username == username)).first()
            if user is None:
                raise CommandError(f"there is no user {username!r}")
            if validate:
                check_new_password(app, password, user)
            user.set_password(password)
            db.commit()
    except (OperationalError, ProgrammingError) as exc:
        raise _no_table(exc) from None
