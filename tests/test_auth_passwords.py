"""kettle.auth.hashers and kettle.auth.validators: hashing, checking the formats
of other frameworks, upgrading on login, timing, and the password rules."""

from __future__ import annotations

import base64
import gzip
import hashlib
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import argon2
import bcrypt
import pytest

from kettle.auth import hashers
from kettle.auth.hashers import Hasher
from kettle.auth.hashers import check_password
from kettle.auth.hashers import hash_password
from kettle.auth.hashers import identify
from kettle.auth.hashers import is_usable
from kettle.auth.hashers import make_unusable_password
from kettle.auth.hashers import needs_rehash
from kettle.auth.validators import CommonPassword
from kettle.auth.validators import MaximumLength
from kettle.auth.validators import MinimumLength
from kettle.auth.validators import NumericPassword
from kettle.auth.validators import PasswordInvalid
from kettle.auth.validators import UserAttributeSimilarity
from kettle.auth.validators import load_validators
from kettle.auth.validators import password_help_texts
from kettle.auth.validators import validate_password
from kettle.exceptions import ImproperlyConfigured

PASSWORD = "correct horse"

# Made by Django 5.2's own hashers (django.contrib.auth.hashers, get_hasher(name)
# with iterations=1000 / rounds=4 / t=1,m=64,p=1 so the tests stay fast, then
# hasher.encode("correct horse", hasher.salt())), with argon2-cffi 25.1 and
# bcrypt 5.0.
DJANGO = {
    "pbkdf2_sha256": "pbkdf2_sha256$1000$YQzEeV7r7ak2SQQlI0vhwJ$"
    "v3896aYjoC04dpddQpt3WUa7ZCSE7YaEVNZh1DSMJjQ=",
    "pbkdf2_sha1": "pbkdf2_sha1$1000$OAbuq8GBxiJ9hGqfp8zyuz$mcGc8EcoolKikTM6D1wLiiSsg7g=",
    "argon2": "argon2$argon2id$v=19$m=64,t=1,p=1$cElJUFpMaFJTUzNvOFBXeWRzbTJ6cg$"
    "UHxTxy/7B8YAS06d/Vj7qhqv0NgtgGP0XK3O52chNOU",
    "bcrypt_sha256": "bcrypt_sha256$$2b$04$"
    "erKR2aMSS1tjBCvsgmOc6.L9nSuywwdeSEfoW23MTLGWbV7VUrVn2",
    "bcrypt": "bcrypt$$2b$04$IJOytRLfeRu3mfKntTVMUuedZtDEI8tRkVRaD7pb.VdrR6N1gqhvu",
}
# The same hasher, password "pässwörd ☕" (UTF-8 before PBKDF2).
DJANGO_UNICODE = (
    "pbkdf2_sha256$1000$hR1anL8naHUfm5Qh46vHzF$"
    "CStvixaaE9ciLJ7KW62oilnW1yzeqkmL0GtKU8TVzYE="
)
# Computed here with hashlib, in Django's layout:
#   "pbkdf2_sha256$1000$kettlesalt$" + base64.b64encode(
#       hashlib.pbkdf2_hmac("sha256", b"correct horse", b"kettlesalt", 1000)).decode()
HASHLIB_PBKDF2 = (
    "pbkdf2_sha256$1000$kettlesalt$17T/6+8saQvMotKz9eRmrqEEv81YWfSzPGQlelGfdbU="
)


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> Hasher:
    """Cheap Argon2 parameters for each test; the process's hasher comes back
    afterwards."""
    monkeypatch.setattr(hashers, "_hasher", hashers.get_hasher())
    return hashers.set_test_parameters()


def django_pbkdf2(password: str, salt: str, iterations: int, digest: str) -> str:
    raw = hashlib.pbkdf2_hmac(digest, password.encode(), salt.encode(), iterations)
    encoded = base64.b64encode(raw).decode("ascii")
    return f"pbkdf2_{digest}${iterations}${salt}${encoded}"


# -- Argon2id ---------------------------------------------------------------------------


def test_hash_is_argon2id_phc_string_with_current_parameters() -> None:
    encoded = hash_password(PASSWORD)
    assert encoded.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert encoded != hash_password(PASSWORD)  # a fresh salt each time
    assert identify(encoded) == "argon2"


def test_argon2id_round_trip() -> None:
    encoded = hash_password(PASSWORD)
    assert check_password(PASSWORD, encoded)
    assert not check_password("correct horsE", encoded)
    assert not check_password("", encoded)
    unicode = hash_password("pässwörd ☕")
    assert check_password("pässwörd ☕", unicode)
    assert not check_password("passwörd ☕", unicode)


def test_lone_surrogate_hashes_and_checks() -> None:
    encoded = hash_password("ab\ud800cd")
    assert check_password("ab\ud800cd", encoded)
    assert not check_password("ab\ud801cd", encoded)


def test_other_argon2_variants_and_django_form_verify() -> None:
    argon2i = argon2.PasswordHasher(
        time_cost=1, memory_cost=8, parallelism=1, type=argon2.Type.I
    ).hash(PASSWORD)
    assert argon2i.startswith("$argon2i$")
    assert check_password(PASSWORD, argon2i)
    assert not check_password("wrong", argon2i)
    assert check_password(PASSWORD, DJANGO["argon2"])
    assert not check_password("wrong", DJANGO["argon2"])
    assert check_password(PASSWORD, "argon2" + argon2i)  # Django's older argon2i


def test_configure_sets_and_restores_parameters() -> None:
    hasher = hashers.configure(time_cost=2, memory_cost=16, parallelism=2)
    assert hashers.get_hasher() is hasher
    assert hash_password("x").startswith("$argon2id$v=19$m=16,t=2,p=2$")
    default = hashers.configure()
    assert (default.time_cost, default.memory_cost, default.parallelism) == (
        3,
        65536,
        4,
    )
    assert hashers.get_hasher() is default  # (the fixture puts its own back)


def test_parameters_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError, match="memory_cost must be at least 8 KiB"):
        Hasher(memory_cost=15, parallelism=2)
    with pytest.raises(ValueError, match="time_cost"):
        hashers.configure(time_cost=0)
    with pytest.raises(ValueError, match="parallelism"):
        Hasher(parallelism=0)


def test_longest_password() -> None:
    longest = "x" * hashers.MAX_PASSWORD_LENGTH
    encoded = hash_password(longest)
    assert check_password(longest, encoded)
    with pytest.raises(ValueError, match="at most 4096 characters"):
        hash_password(longest + "x")
    assert not check_password(longest + "x", encoded)


# -- Django's PBKDF2 ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["pbkdf2_sha256", "pbkdf2_sha1"])
def test_django_made_pbkdf2_hashes(name: str) -> None:
    assert identify(DJANGO[name]) == name
    assert check_password(PASSWORD, DJANGO[name])
    assert not check_password(PASSWORD + " ", DJANGO[name])
    assert not check_password("Correct horse", DJANGO[name])


def test_django_pbkdf2_of_unicode_password() -> None:
    assert check_password("pässwörd ☕", DJANGO_UNICODE)
    assert not check_password("passwörd ☕", DJANGO_UNICODE)


def test_hashlib_vector_in_django_layout() -> None:
    assert django_pbkdf2(PASSWORD, "kettlesalt", 1000, "sha256") == HASHLIB_PBKDF2
    assert check_password(PASSWORD, HASHLIB_PBKDF2)
    assert not check_password("wrong", HASHLIB_PBKDF2)


def test_pbkdf2_fields_are_all_used() -> None:
    """Each of the iterations, the salt and the hash is read from its place:
    changing one breaks the match."""
    good = django_pbkdf2(PASSWORD, "saltsalt", 3, "sha256")
    assert check_password(PASSWORD, good)
    algorithm, iterations, salt, digest = good.split("$")
    assert not check_password(PASSWORD, f"{algorithm}$4${salt}${digest}")
    assert not check_password(PASSWORD, f"{algorithm}${iterations}$saltsalx${digest}")
    other = django_pbkdf2(PASSWORD, "saltsalt", 3, "sha1").split("$")[3]
    assert not check_password(PASSWORD, f"{algorithm}${iterations}${salt}${other}")
    # The same bytes under the other digest's name do not match.
    assert not check_password(PASSWORD, good.replace("pbkdf2_sha256", "pbkdf2_sha1"))
    sha1 = django_pbkdf2(PASSWORD, "s", 1, "sha1")
    assert check_password(PASSWORD, sha1)


# -- bcrypt -------------------------------------------------------------------------------


def test_django_made_bcrypt_hashes() -> None:
    for name in ("bcrypt_sha256", "bcrypt"):
        assert identify(DJANGO[name]) == name
        assert check_password(PASSWORD, DJANGO[name])
        assert not check_password("wrong", DJANGO[name])
    # bcrypt_sha256 is bcrypt over the hex SHA-256, not over the password.
    inner = DJANGO["bcrypt_sha256"].removeprefix("bcrypt_sha256$")
    assert not check_password(PASSWORD, inner)
    hexed = hashlib.sha256(PASSWORD.encode()).hexdigest()
    assert check_password(hexed, inner)


@pytest.mark.parametrize("prefix", [b"2a", b"2b"])
def test_plain_bcrypt(prefix: bytes) -> None:
    encoded = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4, prefix)).decode()
    assert identify(encoded) == "bcrypt"
    assert check_password(PASSWORD, encoded)
    assert not check_password("wrong", encoded)


def test_plain_bcrypt_2y() -> None:
    made = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
    encoded = "$2y$" + made[4:]  # PHP's name for the same algorithm
    assert check_password(PASSWORD, encoded)
    assert not check_password("wrong", encoded)


def test_bcrypt_reads_72_bytes_of_long_passwords() -> None:
    """Plain bcrypt hashes were made from the first 72 bytes (bcrypt 5 refuses
    longer input): a longer password is cut there, as it was when hashed."""
    long = "é" * 50  # 100 bytes
    cut = long.encode()[:72]
    encoded = bcrypt.hashpw(cut, bcrypt.gensalt(4)).decode()
    assert check_password(long, encoded)
    assert check_password(long + "anything", encoded)
    assert not check_password("é" * 35, encoded)  # 70 bytes
    assert check_password(long, "bcrypt$" + encoded)
    # bcrypt_sha256 hashes the whole password first: no cut.
    hexed = hashlib.sha256(long.encode()).hexdigest().encode()
    sha = "bcrypt_sha256$" + bcrypt.hashpw(hexed, bcrypt.gensalt(4)).decode()
    assert check_password(long, sha)
    assert not check_password(long + "x", sha)


def test_bcrypt_hash_without_bcrypt_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "bcrypt", None)  # import bcrypt fails
    for encoded in (DJANGO["bcrypt"], DJANGO["bcrypt_sha256"], DJANGO["bcrypt"][7:]):
        with pytest.raises(
            ImproperlyConfigured, match=r"pip install 'kettle\[bcrypt\]'"
        ):
            check_password(PASSWORD, encoded)
    assert check_password(PASSWORD, DJANGO["pbkdf2_sha256"])  # others still work
    assert needs_rehash(DJANGO["bcrypt"])


# -- upgrading ------------------------------------------------------------------------------


def test_needs_rehash() -> None:
    assert not needs_rehash(hash_password(PASSWORD))
    for encoded in DJANGO.values():
        assert needs_rehash(encoded)
    assert needs_rehash(HASHLIB_PBKDF2)
    assert needs_rehash(bcrypt.hashpw(b"x", bcrypt.gensalt(4)).decode())
    older = Hasher(time_cost=2, memory_cost=8, parallelism=1).hash(PASSWORD)
    assert check_password(PASSWORD, older)
    assert needs_rehash(older)
    argon2i = argon2.PasswordHasher(
        time_cost=1, memory_cost=8, parallelism=1, type=argon2.Type.I
    ).hash(PASSWORD)
    assert needs_rehash(argon2i)
    fresh = hash_password(PASSWORD)
    hashers.configure(time_cost=1, memory_cost=16, parallelism=1)
    assert needs_rehash(fresh)  # the parameters were raised since
    assert not needs_rehash(hash_password(PASSWORD))
    assert not needs_rehash(make_unusable_password())
    assert needs_rehash("$argon2id$garbage")


def test_upgrade_on_login() -> None:
    """What the login code does: check, then store a fresh hash if due."""
    stored = DJANGO["pbkdf2_sha256"]
    assert check_password(PASSWORD, stored) and needs_rehash(stored)
    stored = hash_password(PASSWORD)
    assert check_password(PASSWORD, stored) and not needs_rehash(stored)


# -- malformed and unusable ---------------------------------------------------------------

MALFORMED = [
    None,
    "",
    "$",
    "$$$",
    "!abc",
    "!",
    "pbkdf2_sha256$x$y",
    "pbkdf2_sha256$1000$salt",
    "pbkdf2_sha256$1000$$abc=",
    "pbkdf2_sha256$0$salt$abc=",
    "pbkdf2_sha256$-5$salt$abc=",
    "pbkdf2_sha256$١٠$salt$abc=",  # Arabic-Indic digits
    "pbkdf2_sha256$99999999999999$salt$abc=",
    "pbkdf2_sha256$1000$salt$not base64!",
    "pbkdf2_sha256$1000$salt$",
    "pbkdf2_sha256$1000$salt$abc=$extra",
    "pbkdf2_sha256$1000$sält$abc=",
    "pbkdf2_md5$1000$salt$abc=",
    "md5$salt$abc",
    "sha1$$abc",
    "argon2$garbage",
    "argon2$",
    "$argon2id$",
    "$argon2id$garbage",
    "$argon2id$v=19$m=1,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g",
    "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$ä",
    "$argon2x$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g",
    "bcrypt$",
    "bcrypt$$2b$",
    "bcrypt_sha256$garbage",
    "$2b$garbage",
    "$2b$04$" + "ä" * 53,
    "$2b$99$abcdefghijklmnopqrstuu",
    "plain text password",
    "correct horse",
    "\x00\x01",
]


@pytest.mark.parametrize("encoded", MALFORMED)
def test_malformed_and_unusable_never_match(encoded: str | None) -> None:
    assert check_password(PASSWORD, encoded) is False
    assert check_password("", encoded) is False
    if encoded is not None:
        needs_rehash(encoded)  # no exception
    identify(encoded)


def test_unusable_password() -> None:
    unusable = make_unusable_password()
    assert unusable.startswith("!") and len(unusable) == 41
    assert unusable != make_unusable_password()
    assert not is_usable(unusable)
    assert identify(unusable) is None
    assert not check_password(unusable, unusable)
    assert not check_password(unusable[1:], unusable)
    assert not is_usable(None) and not is_usable("")
    assert is_usable(hash_password("x")) and is_usable(DJANGO["bcrypt"])


@pytest.mark.parametrize(
    ("encoded", "name"),
    [
        ("$argon2id$v=19$...", "argon2"),
        ("$argon2i$v=19$...", "argon2"),
        ("$argon2d$v=19$...", "argon2"),
        ("argon2$argon2id$v=19$...", "argon2"),
        ("pbkdf2_sha256$1$a$b", "pbkdf2_sha256"),
        ("pbkdf2_sha1$1$a$b", "pbkdf2_sha1"),
        ("bcrypt_sha256$$2b$12$...", "bcrypt_sha256"),
        ("bcrypt$$2b$12$...", "bcrypt"),
        ("$2a$12$...", "bcrypt"),
        ("$2y$12$...", "bcrypt"),
        ("md5$a$b", None),
        ("unsalted_md5$$b", None),
        ("$1$abc$def", None),
        ("!pbkdf2_sha256$1$a$b", None),
        ("", None),
        (None, None),
    ],
)
def test_identify(encoded: str | None, name: str | None) -> None:
    assert identify(encoded) == name


# -- the same time for unknown users --------------------------------------------------


def test_no_hash_verifies_the_dummy(monkeypatch: pytest.MonkeyPatch) -> None:
    """With no hash, an unusable one or an unreadable one, Argon2 still verifies
    the password, against the dummy hash made with the current parameters."""
    calls: list[tuple[str, bytes]] = []
    real = argon2.PasswordHasher.verify

    def spy(self: argon2.PasswordHasher, hash: str, password: bytes) -> bool:
        calls.append((hash, password))
        return real(self, hash, password)

    monkeypatch.setattr(argon2.PasswordHasher, "verify", spy)
    dummy = hashers.get_hasher().dummy_hash
    assert dummy.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    for encoded in (None, "!unusable", "md5$a$b", "pbkdf2_sha256$x$y", "$argon2id$x"):
        calls.clear()
        assert not check_password("guess", encoded)
        assert calls[-1] == (dummy, b"guess"), encoded
    hashers.configure(time_cost=1, memory_cost=16, parallelism=1)
    calls.clear()
    assert not check_password("guess", None)
    assert calls[0][0].startswith("$argon2id$v=19$m=16,t=1,p=1$")  # a new dummy


def timed(check: Callable[[], object], runs: list[float]) -> None:
    started = time.perf_counter()
    check()
    runs.append(time.perf_counter() - started)


def test_unknown_user_takes_as_long_as_a_wrong_password() -> None:
    """A ratio of medians, with parameters costly enough (~1 ms) to dwarf the
    noise; the bounds are wide on purpose."""
    hashers.configure(time_cost=1, memory_cost=1024, parallelism=1)
    stored = hash_password(PASSWORD)
    check_password("warm-up", None)
    wrong: list[float] = []
    unknown: list[float] = []
    unusable: list[float] = []
    for _ in range(15):  # interleaved, so drifts hit all three alike
        timed(lambda: check_password("wrong", stored), wrong)
        timed(lambda: check_password("wrong", None), unknown)
        timed(lambda: check_password("wrong", "!x"), unusable)
    base = statistics.median(wrong)
    assert 0.5 < statistics.median(unknown) / base < 2.0
    assert 0.5 < statistics.median(unusable) / base < 2.0


# -- validators -------------------------------------------------------------------------


def refused(validator: object, password: str, user: object = None) -> list[str]:
    try:
        validator.validate(password, user)  # type: ignore[attr-defined]
    except PasswordInvalid as exc:
        assert isinstance(exc, ValueError)
        return exc.messages
    return []


def test_minimum_length() -> None:
    assert refused(MinimumLength(), "seven77") == [
        "This password is too short: it must contain at least 8 characters."
    ]
    assert refused(MinimumLength(), "eight888") == []
    assert refused(MinimumLength(12), "eleven chars") == []
    assert refused(MinimumLength(min_length=12), "elevenchars") == [
        "This password is too short: it must contain at least 12 characters."
    ]
    assert refused(MinimumLength(1), "") == [
        "This password is too short: it must contain at least 1 character."
    ]
    assert MinimumLength().help_text() == (
        "Your password must contain at least 8 characters."
    )


def test_maximum_length() -> None:
    assert refused(MaximumLength(), "x" * 4096) == []
    assert refused(MaximumLength(), "x" * 4097) == [
        "This password is too long: it must contain at most 4096 characters."
    ]
    assert refused(MaximumLength(10), "x" * 11) != []
    assert MaximumLength(10).help_text() == (
        "Your password must contain at most 10 characters."
    )


def test_common_password_list() -> None:
    common = CommonPassword()
    words = common.passwords
    assert len(words) > 3000
    assert all(word == word.lower() and len(word) >= 4 for word in words)
    for word in ("password", "qwerty123", "letmein", "123456789", "1q2w3e4r"):
        assert word in words
    for password in ("password", "Qwerty123", " PASSWORD\t", "LetMeIn", "iloveyou"):
        assert refused(common, password) == ["This password is too common."]
    for password in ("correct horse battery staple", "xk3#9vq!Lm", "pass word"):
        assert refused(common, password) == []
    assert common.help_text() == "Your password must not be a commonly used password."


def test_common_password_list_of_ones_own(tmp_path: Path) -> None:
    plain = tmp_path / "mine.txt"
    plain.write_text("Hunter2Hunter\n\n  zebra crossing  \n", encoding="utf-8")
    mine = CommonPassword(plain)
    assert refused(mine, "hunter2hunter") and refused(mine, "ZEBRA CROSSING")
    assert refused(mine, "password") == []
    packed = tmp_path / "mine.txt.gz"
    packed.write_bytes(gzip.compress(b"sesame street\n"))
    assert refused(CommonPassword(str(packed)), "Sesame Street")


def test_user_attribute_similarity() -> None:
    validator = UserAttributeSimilarity()
    user = SimpleNamespace(
        username="annlee", email="ann.lee@example.org", first_name="Ann", last_name=""
    )
    assert refused(validator, "AnnLee99", user) == [
        "This password is too similar to your username."
    ]
    assert refused(validator, "ann.lee@example", user) == [
        "This password is too similar to your email address."
    ]
    assert refused(validator, "example1", user) != []  # a part of the email
    assert refused(validator, "plum tree at dusk", user) == []
    assert refused(validator, "AnnLee99", None) == []  # no user, nothing to compare
    as_dict = {"username": "bartholomew", "first_name": 7}  # not text: skipped
    assert refused(validator, "Bartholomew1", as_dict) == [
        "This password is too similar to your username."
    ]
    assert refused(validator, "7", as_dict) == []
    strict = UserAttributeSimilarity(attributes=["nickname"], max_similarity=1.0)
    nick = SimpleNamespace(nickname="Wombat", username="annlee")
    assert refused(strict, "wombat", nick) == [
        "This password is too similar to your nickname."
    ]
    assert refused(strict, "wombats", nick) == []
    assert refused(strict, "annlee", nick) == []
    loose = UserAttributeSimilarity(max_similarity=0.3)
    assert refused(loose, "leeway", user) != []
    with pytest.raises(ValueError, match="at least 0.1"):
        UserAttributeSimilarity(max_similarity=0.05)
    assert "personal information" in validator.help_text()


def test_numeric_password() -> None:
    assert refused(NumericPassword(), "31415926535") == [
        "This password is entirely numeric."
    ]
    assert refused(NumericPassword(), "3141592653a") == []
    assert (
        NumericPassword().help_text() == "Your password must not be entirely numeric."
    )


def test_validate_password_gathers_every_message() -> None:
    with pytest.raises(PasswordInvalid) as info:
        validate_password("1234")
    assert info.value.messages == [
        "This password is too short: it must contain at least 8 characters.",
        "This password is too common.",
        "This password is entirely numeric.",
    ]
    assert str(info.value) == " ".join(info.value.messages)
    with pytest.raises(PasswordInvalid) as info:
        validate_password("annlee2024", {"username": "annlee"})
    assert info.value.messages == ["This password is too similar to your username."]
    validate_password("plum tree at dusk", {"username": "annlee"})
    validate_password("1234", validators=[])


def test_the_current_apps_validators_are_the_default() -> None:
    """As Django's: with no validators given, the app's AUTH_PASSWORD_VALIDATORS."""
    from kettle import Kettle

    app = Kettle(env_file=None, AUTH_PASSWORD_VALIDATORS=[{"name": "MinimumLength", "options": {"min_length": 12}}])
    with app.app_context():
        with pytest.raises(PasswordInvalid, match="at least 12 characters"):
            validate_password("eleven char")
        validate_password("12345678901234")  # numeric: fine, only the length is checked
        assert password_help_texts() == ["Your password must contain at least 12 characters."]
    with Kettle(env_file=None).app_context():  # not set: the defaults
        with pytest.raises(PasswordInvalid, match="entirely numeric"):
            validate_password("12345678901234")


def test_password_help_texts() -> None:
    assert password_help_texts() == [
        "Your password must not be too similar to your other personal information.",
        "Your password must contain at least 8 characters.",
        "Your password must not be a commonly used password.",
        "Your password must not be entirely numeric.",
        "Your password must contain at most 4096 characters.",
    ]
    assert password_help_texts([MinimumLength(10)]) == [
        "Your password must contain at least 10 characters."
    ]


def test_load_validators() -> None:
    numeric = NumericPassword()
    loaded = load_validators(
        [
            "kettle.auth.validators.CommonPassword",
            {
                "name": "kettle.auth.validators.MinimumLength",
                "options": {"min_length": 12},
            },
            {"name": "MaximumLength"},
            "UserAttributeSimilarity",
            numeric,
        ]
    )
    assert [type(v) for v in loaded] == [
        CommonPassword,
        MinimumLength,
        MaximumLength,
        UserAttributeSimilarity,
        NumericPassword,
    ]
    assert loaded[1].min_length == 12  # type: ignore[attr-defined]
    assert loaded[4] is numeric
    spec = [
        {"name": "kettle.auth.validators.MinimumLength", "options": {"min_length": 12}}
    ]
    with pytest.raises(PasswordInvalid) as info:
        validate_password("eleven char", validators=spec)
    assert "at least 12 characters" in info.value.messages[0]
    assert password_help_texts(["NumericPassword"]) == [
        "Your password must not be entirely numeric."
    ]


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        (["kettle.auth.validators.Nope"], "cannot be imported"),
        (["no_such_module_here.Validator"], "cannot be imported"),
        (["Nope"], "cannot be imported"),
        ([{"name": "MinimumLength", "options": {"length": 3}}], "cannot be made"),
        ([{"name": "MinimumLength", "option": {}}], "has the keys 'name'"),
        ([{"options": {}}], "has the keys 'name'"),
        ([{"name": "MinimumLength", "options": [1]}], "has the keys 'name'"),
        (["collections.OrderedDict"], "no validate"),
        ([42], "is no password validator"),
        ("kettle.auth.validators.MinimumLength", "given as a list"),
        ({"name": "MinimumLength"}, "given as a list"),
    ],
)
def test_load_validators_errors(spec: object, error: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=error):
        load_validators(spec)  # type: ignore[arg-type]
