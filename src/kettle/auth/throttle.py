"""Login throttling: failed logins counted per account and per client address,
with the app's limiter (:mod:`kettle.ratelimit`: memory, or Redis shared by
every worker).

Every attempt is counted against both before its password is checked, so
concurrent guesses are counted too: an account or address over its rate is
refused at once (the password is not even checked, so guessing goes no
faster). A complete login (with its second factor) clears the account's count.
Second-factor codes are counted per user at the account's rate. Rates:
``AUTH_LOGIN_RATE_ACCOUNT`` (default ``"5/5m"``: five attempts at once, then
one a minute) and ``AUTH_LOGIN_RATE_ADDRESS`` (``"30/5m"``); None turns one off.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING
from typing import Any

if TYPE_CHECKING:
    from ..requests import HTTPConnection

__all__ = ("attempt", "code_attempt", "succeeded", "wait_message")

ACCOUNT = "kettle.auth.login.account"
ADDRESS = "kettle.auth.login.address"
SECOND_FACTOR = "kettle.auth.login.code"


def _checks(conn: HTTPConnection, username: str) -> list[tuple[str, str, Any]]:
    from ..ratelimit import client_address

    cfg = conn.app.config
    checks = []
    account_rate = cfg.get("AUTH_LOGIN_RATE_ACCOUNT")
    if account_rate and username:
        checks.append((ACCOUNT, username.strip().casefold()[:254], account_rate))
    address_rate = cfg.get("AUTH_LOGIN_RATE_ADDRESS")
    if address_rate:
        checks.append((ADDRESS, client_address(conn), address_rate))
    return checks


def attempt(conn: HTTPConnection, username: str) -> float:
    """Count a login attempt against the account and the address, before the
    password is checked (so that concurrent guesses are counted too); the
    seconds to wait when it is refused (0: go on)."""
    from ..ratelimit import get_limiter

    limiter = get_limiter(conn.app)
    wait = 0.0
    for name, key, rate in _checks(conn, username):
        verdict = limiter.hit(name, key, rate)
        if not verdict.allowed:
            wait = max(wait, verdict.retry_after)
    return wait


def code_attempt(conn: HTTPConnection, user_id: object) -> float:
    """:func:`attempt` for a second-factor code of the user ``user_id``:
    counted per user, whatever session or address it comes from."""
    from ..ratelimit import get_limiter

    rate = conn.app.config.get("AUTH_LOGIN_RATE_ACCOUNT")
    if not rate:
        return 0.0
    verdict = get_limiter(conn.app).hit(SECOND_FACTOR, str(user_id), rate)
    return 0.0 if verdict.allowed else verdict.retry_after


def succeeded(conn: HTTPConnection, username: str, user_id: object = None) -> None:
    """Clear the account's count (and the user's second-factor count) after a
    complete login; the address's stays."""
    from ..ratelimit import get_limiter

    limiter = get_limiter(conn.app)
    for name, key, _ in _checks(conn, username):
        if name == ACCOUNT:
            limiter.reset(name, key)
    if user_id is not None:
        limiter.reset(SECOND_FACTOR, str(user_id))


def wait_message(seconds: float) -> str:
    whole = max(1, math.ceil(seconds))
    unit = "second" if whole == 1 else "seconds"
    return f"Too many failed logins: try again in {whole} {unit}."
