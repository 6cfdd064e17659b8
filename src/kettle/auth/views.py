"""The pages of ``Auth(app)``: the blueprint ``auth``, under ``/auth``.

- ``/auth/login``: the form (GET); logging in (POST; fields ``username``,
  ``password``, ``remember``; ``next``, checked to be a page of this site, is
  where the browser goes after).
- ``/auth/logout``: a confirmation (GET); logging out (POST only, so a link or
  an image on another site cannot log a user out).
- ``/auth/password-reset``: asks for an email address and sends it a link to
  ``/auth/password-reset/<token>``, where a new password is chosen.
- ``/auth/password-change``: a logged-in user changes their password.
- ``/auth/confirm/<token>``: the link that confirms an email address.

The templates (``auth/login.html``, ``auth/logout.html``,
``auth/password_reset.html``, ``auth/password_set.html``,
``auth/email_confirmed.html`` and the emails' ``auth/email/*.txt``) are looked up
in the app's template folder first, so an app overrides them by writing its own.
"""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy.orm import Session

from ..blueprints import Blueprint
from ..forms import BooleanField
from ..forms import EmailField
from ..forms import Form
from ..forms import PasswordField
from ..forms import StringField
from ..helpers import redirect
from ..helpers import url_for
from ..requests import Request
from ..responses import Response
from ..security import is_safe_url
from ..security import safe_next
from . import throttle
from . import twofactor
from .core import _login_failed
from .core import authenticate
from .core import login
from .core import logout
from .core import setting_url
from .core import update_session_auth_hash
from .models import User

__all__ = (
    "Auth",
    "LoginForm",
    "PasswordChangeForm",
    "PasswordResetForm",
    "SetPasswordForm",
)


class LoginForm(Form):
    """The login page's form."""

    username = StringField(
        "User name or email", max_length=254, autocomplete="username"
    )
    password = PasswordField(
        "Password", max_length=4096, autocomplete="current-password"
    )
    remember = BooleanField("Remember me", required=False)


class PasswordResetForm(Form):
    """The form asking for a reset link."""

    email = EmailField("Email", max_length=254, autocomplete="email")


class SetPasswordForm(Form):
    """A new password, twice, checked by ``AUTH_PASSWORD_VALIDATORS``."""

    password = PasswordField(
        "New password", max_length=4096, autocomplete="new-password"
    )
    confirm = PasswordField(
        "New password (again)", max_length=4096, autocomplete="new-password"
    )
    #: The user whose password it is (the validators compare with it).
    user: Any = None

    def validate(self) -> None:
        _check_new_password(self)


class PasswordChangeForm(Form):
    """The current password, then a new one twice."""

    old_password = PasswordField(
        "Current password", max_length=4096, autocomplete="current-password"
    )
    password = PasswordField(
        "New password", max_length=4096, autocomplete="new-password"
    )
    confirm = PasswordField(
        "New password (again)", max_length=4096, autocomplete="new-password"
    )
    user: Any = None

    def validate(self) -> None:
        old = self.data.get("old_password")
        if old is not None and not self.user.check_password(old):
            self.add_error("old_password", "This is not your current password.")
            return
        _check_new_password(self)


def _check_new_password(form: Any) -> None:
    from ..context import current_app
    from .validators import PasswordInvalid
    from .validators import validate_password

    password, confirm = form.data.get("password"), form.data.get("confirm")
    if password is None or confirm is None:
        return  # already reported as missing
    if password != confirm:
        form.add_error("confirm", "The two passwords differ.")
        return
    try:
        validate_password(
            password, form.user, current_app.config.get("AUTH_PASSWORD_VALIDATORS")
        )
    except PasswordInvalid as exc:
        for message in exc.messages:
            form.add_error("password", message)


_LOGIN_FAILED = "Please enter a correct user name and password."


def login_view(request: Request, form: LoginForm, db: Session) -> Any:
    """Show the login form; log in on a correct POST."""
    from ..templating import render

    error = None
    status = 200
    if request.method == "POST" and form.is_valid():
        name = form.data["username"]
        wait = throttle.attempt(request, name)
        user = None
        if wait:  # locked out: the password is not even checked
            error, status = throttle.wait_message(wait), 429
            _login_failed(name, "throttled")
        else:
            user = authenticate(db, name, form.data["password"])
        if user is not None:
            remember = bool(form.data.get("remember"))
            kind = twofactor.needs_second_factor(db, user)
            if kind is not None:  # the password is right; a code comes next
                twofactor.begin(
                    request,
                    user,
                    kind,
                    remember=remember,
                    next_url=safe_next(request, ""),
                    name=name,
                )
                page = (
                    "auth.two_factor" if kind == "verify" else "auth.two_factor_setup"
                )
                return redirect(url_for(page), 303)
            throttle.succeeded(request, name)
            login(request, user, remember=remember)
            return redirect(
                safe_next(request, setting_url(request, "LOGIN_REDIRECT_URL")), 303
            )
        error = error or _LOGIN_FAILED
    response = render(
        "auth/login.html",
        form=form,
        error=error,
        next=safe_next(request, ""),
        action=url_for("auth.login"),
    )
    response.status_code = status
    return response


def logout_view(request: Request) -> Response:
    """Ask to confirm (GET); log out (POST)."""
    from ..templating import render

    if request.method == "POST":
        logout(request)
        return redirect(
            safe_next(request, setting_url(request, "LOGOUT_REDIRECT_URL")), 303
        )
    return render("auth/logout.html", action=url_for("auth.logout"))


def password_reset_view(request: Request, form: PasswordResetForm, db: Session) -> Any:
    """Ask for an email address; send it a reset link (the page says the same
    whether or not an account uses it)."""
    from ..templating import render
    from .emails import send_password_reset

    sent = False
    if request.method == "POST" and form.is_valid():
        send_password_reset(request, db, form.data["email"])
        sent = True
    return render(
        "auth/password_reset.html",
        form=form,
        sent=sent,
        action=url_for("auth.password_reset"),
    )


def password_reset_confirm_view(
    request: Request, token: str, form: SetPasswordForm, db: Session
) -> Any:
    """Choose a new password, from a reset link."""
    from ..sessions import flash
    from ..templating import render
    from .emails import RESET
    from .emails import read_token
    from .tokens import revoke_tokens

    user = read_token(db, request.app, token, RESET)
    if user is None:
        response = render(
            "auth/password_set.html", invalid=True, heading="Choose a new password"
        )
        response.status_code = 400
        return response
    form.user = user
    if request.method == "POST" and form.is_valid():
        user.set_password(form.data["password"])
        revoke_tokens(db, user)  # the API tokens of a possibly stolen account
        flash("Your password is set. You can log in now.", "success")
        return redirect(url_for("auth.login"), 303)
    return render(
        "auth/password_set.html",
        form=form,
        heading="Choose a new password",
        help_texts=_help_texts(request),
        action=url_for("auth.password_reset_confirm", token=token),
    )


def _throttled(wait: float) -> Any:
    from ..exceptions import HTTPException

    raise HTTPException(
        429,
        throttle.wait_message(wait),
        headers={"retry-after": str(max(1, int(wait + 0.999)))},
    )


def password_change_view(
    request: Request, form: PasswordChangeForm, user: User, db: Session
) -> Any:
    """Change one's own password (this session stays logged in; the others
    end)."""
    from ..sessions import flash
    from ..templating import render
    from .tokens import revoke_tokens

    _session_only(request)
    form.user = user
    if request.method == "POST":
        wait = throttle.attempt(request, user.username)  # guessing the old one
        if wait:
            return _throttled(wait)
    if request.method == "POST" and form.is_valid():
        user.set_password(form.data["password"])
        revoke_tokens(db, user)
        update_session_auth_hash(request, user)
        flash("Your password is changed.", "success")
        return redirect(setting_url(request, "LOGIN_REDIRECT_URL"), 303)
    return render(
        "auth/password_set.html",
        form=form,
        heading="Change your password",
        help_texts=_help_texts(request),
        action=url_for("auth.password_change"),
    )


def confirm_email_view(request: Request, token: str, db: Session) -> Any:
    """Confirm an email address, from the link sent to it."""
    from ..templating import render
    from .emails import confirm_email

    user = confirm_email(db, request.app, token)
    response = render("auth/email_confirmed.html", user=user)
    if user is None:
        response.status_code = 400
    return response


class CodeForm(Form):
    """A code from the authenticator app, or a recovery code."""

    code = StringField("Code", max_length=64, autocomplete="one-time-code")


def _after_login(request: Request, next_url: str) -> Any:
    if next_url and is_safe_url(next_url, request):
        return redirect(next_url, 303)
    return redirect(setting_url(request, "LOGIN_REDIRECT_URL"), 303)


def two_factor_view(request: Request, form: CodeForm, db: Session) -> Any:
    """The second step of a login with two factors: the code."""
    from ..sessions import flash
    from ..templating import render

    user = twofactor.pending(request, db, "verify")
    if user is None:
        flash("Log in first (or again: the login took too long).", "error")
        return redirect(url_for("auth.login"), 303)
    error = None
    status = 200
    if request.method == "POST" and form.is_valid():
        wait = throttle.code_attempt(request, user.id)  # per user, not session
        if wait:
            error, status = throttle.wait_message(wait), 429
            _login_failed(user.username, "throttled")
        elif twofactor.verify_code(db, user, form.data["code"]):
            remember, next_url, name = twofactor.finish(request)
            throttle.succeeded(request, name, user.id)
            login(request, user, remember=remember, second_factor=True)
            return _after_login(request, next_url)
        else:
            _login_failed(user.username, "second_factor")
            if twofactor.failed_try(request):
                flash("Too many wrong codes: log in again.", "error")
                return redirect(url_for("auth.login"), 303)
            error = "That code is not right (or was used already)."
    response = render(
        "auth/two_factor.html",
        form=form,
        error=error,
        action=url_for("auth.two_factor"),
    )
    response.status_code = status
    return response


def _session_only(request: Request) -> None:
    """Refuse a request authenticated by an API token: these pages change
    how the user logs in, which a token (maybe a leaked one) must not do."""
    from ..exceptions import HTTPException
    from .tokens import bearer

    if bearer(request) is not None:
        raise HTTPException(403, "This page is for a logged-in browser, not a token.")


def two_factor_setup_view(
    request: Request, form: CodeForm, db: Session, user: User | None
) -> Any:
    """Set up an authenticator app: for a logged-in user without one, or for
    one whose group requires it before their login completes."""
    from ..sessions import flash
    from ..templating import render
    from . import totp

    _session_only(request)
    completing = user is None
    if completing:
        user = twofactor.pending(request, db, "setup")
        if user is None:
            flash("Log in first (or again: the login took too long).", "error")
            return redirect(url_for("auth.login"), 303)
    assert user is not None
    if user.totp_secret:  # replacing it would need no proof of the old one
        response = render("auth/two_factor_on.html")
        response.status_code = 409
        return response
    error = None
    status = 200
    if request.method == "POST" and form.is_valid():
        secret = twofactor.setup_secret(request)
        wait = throttle.code_attempt(request, user.id)
        codes = None if wait else twofactor.enable(db, user, secret, form.data["code"])
        if codes is not None:
            request.session.pop(twofactor.SETUP_SECRET, None)
            next_url = ""
            if completing:
                remember, next_url, name = twofactor.finish(request)
                throttle.succeeded(request, name, user.id)
                login(request, user, remember=remember, second_factor=True)
            return render(
                "auth/recovery_codes.html",
                codes=codes,
                next=next_url or setting_url(request, "LOGIN_REDIRECT_URL"),
            )
        if wait:
            error, status = throttle.wait_message(wait), 429
        elif completing and twofactor.failed_try(request):
            flash("Too many wrong codes: log in again.", "error")
            return redirect(url_for("auth.login"), 303)
        else:
            error = "That code is not right: check the clock of your phone."
    else:  # a new secret each time the page is shown
        request.session[twofactor.SETUP_SECRET] = totp.new_secret()
    secret = twofactor.setup_secret(request)
    uri = totp.provisioning_uri(
        secret, user.email or user.username, twofactor._issuer(request)
    )
    response = render(
        "auth/two_factor_setup.html",
        form=form,
        error=error,
        secret=secret,
        uri=uri,
        action=url_for("auth.two_factor_setup"),
    )
    response.status_code = status
    return response


def _help_texts(request: Request) -> list[str]:
    from .validators import password_help_texts

    return password_help_texts(request.app.config.get("AUTH_PASSWORD_VALIDATORS"))


class Auth:
    """The login and logout pages of ``app``, and what templates see of the
    current user (``current_user``).

    Args:
        app: The app.
        url_prefix: Where the pages are (``/auth``: ``/auth/login``).
    """

    def __init__(self, app: Any, *, url_prefix: str = "/auth") -> None:
        self.app = app
        bp = Blueprint(
            "auth",
            url_prefix=url_prefix,
            static_folder=None,
            root_path=os.path.dirname(__file__),
        )
        bp.route("/login", methods=["GET", "POST"], name="login")(login_view)
        bp.route("/logout", methods=["GET", "POST"], name="logout")(logout_view)
        both = ["GET", "POST"]
        bp.route("/password-reset", methods=both, name="password_reset")(
            password_reset_view
        )
        bp.route(
            "/password-reset/{token}", methods=both, name="password_reset_confirm"
        )(password_reset_confirm_view)
        bp.route("/password-change", methods=both, name="password_change")(
            password_change_view
        )
        bp.get("/confirm/{token}", name="confirm_email")(confirm_email_view)
        bp.route("/two-factor", methods=both, name="two_factor")(two_factor_view)
        bp.route("/two-factor/setup", methods=both, name="two_factor_setup")(
            two_factor_setup_view
        )
        self.blueprint = bp
        app.register_blueprint(bp)
        app.extensions["auth"] = self
