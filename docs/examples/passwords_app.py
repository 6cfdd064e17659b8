"""Passwords: validate a new one, store its hash, check it at login and upgrade
old hashes as users log in. The users live in a dict here; in an app they are
rows of a table."""

from kettle.auth.hashers import check_password
from kettle.auth.hashers import hash_password
from kettle.auth.hashers import needs_rehash
from kettle.auth.hashers import set_test_parameters
from kettle.auth.validators import PasswordInvalid
from kettle.auth.validators import load_validators
from kettle.auth.validators import password_help_texts
from kettle.auth.validators import validate_password

USERS: dict[str, dict[str, str]] = {}  # username -> the user's row


# -- signing up
def sign_up(username: str, email: str, password: str) -> list[str]:
    """Store a new user; return what is wrong with the password, if anything."""
    user = {"username": username, "email": email}
    try:
        validate_password(password, user)  # the default validators
    except PasswordInvalid as exc:
        return exc.messages  # one sentence per broken rule
    user["password"] = hash_password(password)  # "$argon2id$v=19$m=65536,..."
    USERS[username] = user
    return []


# -- logging in
def log_in(username: str, password: str) -> bool:
    """Whether the password is right; an old hash is replaced on the way."""
    user = USERS.get(username)
    stored = user["password"] if user else None
    # With no user, check_password still spends the time of a real check.
    if not check_password(password, stored):
        return False
    if needs_rehash(stored):  # another format, or older Argon2 parameters
        user["password"] = hash_password(password)
    return True


# -- choosing the validators
AUTH_PASSWORD_VALIDATORS = [
    {"name": "kettle.auth.validators.MinimumLength", "options": {"min_length": 12}},
    "kettle.auth.validators.CommonPassword",
    "NumericPassword",  # a bare name is one of kettle.auth.validators'
]
VALIDATORS = load_validators(AUTH_PASSWORD_VALIDATORS)  # once, at start-up


def check_new_password(password: str) -> list[str]:
    """What is wrong with ``password`` under this app's rules."""
    try:
        validate_password(password, validators=VALIDATORS)
    except PasswordInvalid as exc:
        return exc.messages
    return []


def rules() -> list[str]:
    """The rules, to show next to the password field."""
    return password_help_texts(VALIDATORS)


# -- tests: in conftest.py
def pytest_configure() -> None:
    set_test_parameters()  # cheap Argon2 for the test suite; never in production
