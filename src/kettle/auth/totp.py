"""Two-factor authentication primitives: one-time codes from an authenticator
app (HOTP, RFC 4226, and TOTP, RFC 6238) and single-use recovery codes.

A user turns two-factor on by scanning :func:`provisioning_uri` (as a QR code)
with an authenticator app; the app and the server then share the secret of
:func:`new_secret` and compute the same 6-digit code every 30 seconds.
:func:`verify` checks a code the user typed and returns the time step it
matched: store it, and pass it back as ``last_used_step`` next time, so that a
code that was seen (over a shoulder, by a phishing proxy) cannot be used again.

Recovery codes (:func:`new_recovery_codes`) let a user who lost the app log in.
They are shown once; only :func:`hash_recovery_code` of each is stored, and
:func:`match_recovery_code` returns the stored hash a code matches, which the
caller deletes: each code is good once.

Codes and hashes are compared in constant time, and :func:`verify` computes
every step of its window whether or not one matched. Only the standard library
is used (no QR code: render the URI with a library of your choice).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
import struct
import time
from collections.abc import Iterable
from urllib.parse import quote
from urllib.parse import urlencode

__all__ = (
    "ALGORITHMS",
    "DEFAULT_DIGITS",
    "DEFAULT_STEP",
    "RECOVERY_CODE_ALPHABET",
    "hash_recovery_code",
    "hotp",
    "match_recovery_code",
    "new_recovery_codes",
    "new_secret",
    "provisioning_uri",
    "totp",
    "verify",
)

#: The HMAC hashes codes can be made with (RFC 6238 allows all three; most
#: authenticator apps read only SHA-1, the default).
ALGORITHMS = ("sha1", "sha256", "sha512")
#: Digits in a code by default (RFC 4226 allows 6 to 8).
DEFAULT_DIGITS = 6
#: Seconds a TOTP code lasts by default (RFC 6238's recommendation).
DEFAULT_STEP = 30
#: The characters of recovery codes: lowercase letters and digits without
#: those read alike (0/o, 1/l/i), 31 in all.
RECOVERY_CODE_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"

_SECRET_BYTES = 20  # 160 bits: RFC 4226's recommended length
_MIN_DIGITS = 6
_MAX_DIGITS = 8
_MAX_COUNTER = 2**64  # the counter is packed in 8 bytes
_MAX_CODE_INPUT = 64  # longer input is refused before it is looked at
_RECOVERY_GROUPS = 3
_RECOVERY_GROUP_LENGTH = 4  # 3 * 4 characters of 31: 59.4 bits
_RECOVERY_LENGTH = _RECOVERY_GROUPS * _RECOVERY_GROUP_LENGTH
_RECOVERY_HASH_PREFIX = "sha256"
_RECOVERY_SALT_BYTES = 16


# -- secrets --------------------------------------------------------------------------


def new_secret() -> str:
    """A new random secret to share with an authenticator app.

    Returns:
        160 random bits in base32 without padding (32 uppercase letters and
        digits ``2``-``7``), as the apps and :func:`provisioning_uri` take it.
    """
    return base64.b32encode(secrets.token_bytes(_SECRET_BYTES)).decode("ascii")


def _clean_secret(secret: str) -> str:
    """``secret`` in canonical form (uppercase, no spaces, no padding), checked
    to be base32."""
    cleaned = "".join(secret.split()).upper().rstrip("=")
    _decode_secret(cleaned)
    return cleaned


def _decode_secret(secret: str) -> bytes:
    """The key bytes of a base32 secret; spaces, lowercase and missing padding
    are accepted, as apps show and take secrets that way."""
    cleaned = "".join(secret.split()).upper().rstrip("=")
    try:
        key = base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))
    except ValueError as exc:  # binascii.Error, or not ASCII
        raise ValueError("the secret is not valid base32") from exc
    if not key:
        raise ValueError("the secret is empty")
    return key


# -- one-time codes -------------------------------------------------------------------


def _check_digits(digits: int) -> None:
    if not _MIN_DIGITS <= digits <= _MAX_DIGITS:
        raise ValueError(
            f"digits must be from {_MIN_DIGITS} to {_MAX_DIGITS}, not {digits}"
        )


def _check_algorithm(algorithm: str) -> str:
    name = algorithm.lower()
    if name not in ALGORITHMS:
        raise ValueError(
            f"algorithm must be one of {', '.join(ALGORITHMS)}, not {algorithm!r}"
        )
    return name


def _time_step(at: float | None, step: int) -> int:
    """The number of ``step``-second periods since the Unix epoch at ``at``
    (RFC 6238's T, with T0 = 0)."""
    if step < 1:
        raise ValueError(f"step must be at least 1 second, not {step}")
    if at is None:
        at = time.time()
    if not (math.isfinite(at) and at >= 0):
        raise ValueError(f"at must be a time after the Unix epoch, not {at}")
    counter = int(at // step)
    if counter >= _MAX_COUNTER:
        raise ValueError(f"at is too far in the future: {at}")
    return counter


def _hotp(key: bytes, counter: int, digits: int, algorithm: str) -> str:
    """RFC 4226 section 5.3, for arguments already checked."""
    mac = hmac.digest(key, struct.pack(">Q", counter), algorithm)
    # Dynamic truncation: the low 4 bits of the last byte give the offset of
    # 4 bytes, read big-endian without their top bit.
    offset = mac[-1] & 0x0F
    (value,) = struct.unpack_from(">I", mac, offset)
    return str((value & 0x7FFFFFFF) % 10**digits).zfill(digits)


def hotp(
    secret: str,
    counter: int,
    *,
    digits: int = DEFAULT_DIGITS,
    algorithm: str = "sha1",
) -> str:
    """The HOTP code (RFC 4226) of ``secret`` for ``counter``.

    Args:
        secret: The shared secret in base32 (padding, case and spaces do not
            matter).
        counter: The moving factor, from 0 to ``2**64 - 1``.
        digits: The length of the code, 6 to 8.
        algorithm: The HMAC hash: ``"sha1"``, ``"sha256"`` or ``"sha512"``.

    Returns:
        The code, ``digits`` decimal digits with leading zeros kept.

    Raises:
        ValueError: The secret is not base32 or is empty, or an argument is out
            of range.
    """
    key = _decode_secret(secret)
    _check_digits(digits)
    name = _check_algorithm(algorithm)
    if not 0 <= counter < _MAX_COUNTER:
        raise ValueError(f"counter must be from 0 to 2**64 - 1, not {counter}")
    return _hotp(key, counter, digits, name)


def totp(
    secret: str,
    *,
    at: float | None = None,
    step: int = DEFAULT_STEP,
    digits: int = DEFAULT_DIGITS,
    algorithm: str = "sha1",
) -> str:
    """The TOTP code (RFC 6238) of ``secret`` at a time: the HOTP code of the
    number of ``step``-second periods since the Unix epoch.

    Args:
        secret: The shared secret in base32.
        at: The time, in seconds since the epoch (None: now).
        step: The seconds a code lasts.
        digits: The length of the code, 6 to 8.
        algorithm: The HMAC hash: ``"sha1"``, ``"sha256"`` or ``"sha512"``.

    Returns:
        The code, ``digits`` decimal digits with leading zeros kept.

    Raises:
        ValueError: The secret is not base32, or an argument is out of range
            (a time before the epoch, a step under 1 second).
    """
    return hotp(secret, _time_step(at, step), digits=digits, algorithm=algorithm)


def _clean_code(code: str, digits: int) -> str | None:
    """``code`` without spaces and dashes, or None when it cannot be a code:
    too long, of the wrong length, or not all ASCII digits."""
    if len(code) > _MAX_CODE_INPUT:
        return None
    cleaned = "".join(code.split()).replace("-", "")
    if len(cleaned) != digits or not (cleaned.isascii() and cleaned.isdigit()):
        return None
    return cleaned


def verify(
    secret: str,
    code: str,
    *,
    at: float | None = None,
    window: int = 1,
    step: int = DEFAULT_STEP,
    last_used_step: int | None = None,
    digits: int = DEFAULT_DIGITS,
    algorithm: str = "sha1",
) -> int | None:
    """Check a TOTP code the user typed.

    The codes of the current time step and of ``window`` steps either side are
    accepted (the clocks of phone and server drift, and typing takes time).
    Every step of the window is computed and compared in constant time, with
    no early exit, so the time taken does not tell which step matched.

    Store the step returned (``User.totp_last_step``) and pass it back as
    ``last_used_step``: a code of that step or an earlier one is then refused,
    so each code is good once. Store it with a conditional update (``WHERE
    totp_last_step IS NULL OR totp_last_step < :step``) when two requests could
    race.

    Args:
        secret: The shared secret in base32.
        code: What the user typed. Spaces and dashes are ignored (``"123 456"``,
            ``"123-456"``); anything else that is not ``digits`` ASCII digits
            is refused without computing a code.
        at: The time, in seconds since the epoch (None: now).
        window: The steps accepted before and after the current one.
        step: The seconds a code lasts.
        last_used_step: The step of the last code accepted for this secret
            (None: none yet). Steps up to it are refused.
        digits: The length of the code, 6 to 8.
        algorithm: The HMAC hash: ``"sha1"``, ``"sha256"`` or ``"sha512"``.

    Returns:
        The time step the code matched (the earliest, in the rare case that
        it matches several), or None.

    Raises:
        ValueError: The secret is not base32, or an argument other than
            ``code`` is out of range.
    """
    key = _decode_secret(secret)
    _check_digits(digits)
    name = _check_algorithm(algorithm)
    if window < 0:
        raise ValueError(f"window must be 0 or more, not {window}")
    current = _time_step(at, step)
    candidate = _clean_code(code, digits)
    if candidate is None:
        return None
    matched: int | None = None
    last = min(current + window, _MAX_COUNTER - 1)
    for counter in range(max(current - window, 0), last + 1):
        # Steps already used are computed and compared too: same work.
        same = hmac.compare_digest(_hotp(key, counter, digits, name), candidate)
        fresh = last_used_step is None or counter > last_used_step
        if same and fresh and matched is None:
            matched = counter
    return matched


# -- provisioning ---------------------------------------------------------------------


def provisioning_uri(
    secret: str,
    account_name: str,
    issuer: str,
    *,
    digits: int = DEFAULT_DIGITS,
    algorithm: str = "sha1",
    step: int = DEFAULT_STEP,
) -> str:
    """The ``otpauth://`` URI that authenticator apps read (usually from a QR
    code) to add an account, in the Key URI Format of Google Authenticator.

    For example ``otpauth://totp/Kettle:alice@example.com?secret=JBSW...&
    issuer=Kettle&algorithm=SHA1&digits=6&period=30``. The label is the
    issuer, a colon and the account name, each percent-encoded (UTF-8; a space
    is ``%20``, a colon in the account name ``%3A``; ``@`` is left as it is).
    The issuer is repeated as a parameter, which apps prefer to the label's.

    Args:
        secret: The shared secret in base32; written uppercase, without spaces
            or padding.
        account_name: Who the code is for, as shown in the app (the user's
            email address or name).
        issuer: The site or service, as shown in the app.
        digits: The length of the codes, 6 to 8.
        algorithm: The HMAC hash: ``"sha1"``, ``"sha256"`` or ``"sha512"``.
        step: The seconds a code lasts (the URI's ``period``).

    Returns:
        The URI.

    Raises:
        ValueError: The secret is not base32; the issuer or account name is
            empty; the issuer contains a colon (it would end the issuer in the
            label); or an argument is out of range.
    """
    cleaned = _clean_secret(secret)
    _check_digits(digits)
    name = _check_algorithm(algorithm)
    if step < 1:
        raise ValueError(f"step must be at least 1 second, not {step}")
    if not issuer:
        raise ValueError("the issuer must not be empty")
    if ":" in issuer:
        raise ValueError(f"the issuer must not contain a colon: {issuer!r}")
    if not account_name:
        raise ValueError("the account name must not be empty")
    label = quote(issuer, safe="") + ":" + quote(account_name, safe="@")
    query = urlencode(
        {
            "secret": cleaned,
            "issuer": issuer,
            "algorithm": name.upper(),
            "digits": digits,
            "period": step,
        },
        quote_via=quote,
    )
    return f"otpauth://totp/{label}?{query}"


# -- recovery codes -------------------------------------------------------------------


def new_recovery_codes(count: int = 10) -> list[str]:
    """New single-use recovery codes, to show the user once.

    Each is 12 random characters of :data:`RECOVERY_CODE_ALPHABET` in three
    groups of four (``"k7f3-9xq2-mw4p"``): 59 bits, from :mod:`secrets`. The
    codes returned are all different.

    Args:
        count: How many.

    Returns:
        The codes; store only their :func:`hash_recovery_code`.

    Raises:
        ValueError: ``count`` is under 1.
    """
    if count < 1:
        raise ValueError(f"count must be at least 1, not {count}")
    codes: dict[str, None] = {}  # ordered, and without duplicates
    while len(codes) < count:
        characters = [
            secrets.choice(RECOVERY_CODE_ALPHABET) for _ in range(_RECOVERY_LENGTH)
        ]
        groups = (
            "".join(characters[i : i + _RECOVERY_GROUP_LENGTH])
            for i in range(0, _RECOVERY_LENGTH, _RECOVERY_GROUP_LENGTH)
        )
        codes["-".join(groups)] = None
    return list(codes)


def _clean_recovery_code(code: str) -> str | None:
    """``code`` lowercase without whitespace and dashes, or None when it is not
    the form of a recovery code."""
    if len(code) > _MAX_CODE_INPUT:
        return None
    cleaned = "".join(code.split()).replace("-", "").lower()
    if len(cleaned) != _RECOVERY_LENGTH or not all(
        character in RECOVERY_CODE_ALPHABET for character in cleaned
    ):
        return None
    return cleaned


def _recovery_digest(salt: bytes, cleaned: str) -> bytes:
    return hashlib.sha256(salt + cleaned.encode("ascii")).digest()


def hash_recovery_code(code: str) -> str:
    """The value to store for a recovery code: a salted SHA-256 of the code,
    lowercase and without spaces and dashes.

    A fast hash is enough here, unlike for passwords: a code is 59 random bits,
    not something a person chose, so there is no dictionary to try and a
    stolen hash leaves about ``2**58`` SHA-256 computations to find one code
    (months of a GPU). The random salt makes that work per code: it cannot be
    shared over every code in the table. And a recovery code replaces only the
    second factor: the password is still needed.

    Args:
        code: A code of :func:`new_recovery_codes`, typed in any case, with or
            without its dashes.

    Returns:
        ``sha256$<salt, 32 hex digits>$<digest, 64 hex digits>`` (104
        characters).

    Raises:
        ValueError: ``code`` is not a recovery code (length, characters).
    """
    cleaned = _clean_recovery_code(code)
    if cleaned is None:
        raise ValueError("not a recovery code")
    salt = secrets.token_bytes(_RECOVERY_SALT_BYTES)
    digest = _recovery_digest(salt, cleaned)
    return f"{_RECOVERY_HASH_PREFIX}${salt.hex()}${digest.hex()}"


def _parse_recovery_hash(stored: str) -> tuple[bytes, bytes] | None:
    """The salt and digest of a :func:`hash_recovery_code` value, or None when
    it is not one."""
    parts = stored.split("$")
    if len(parts) != 3 or parts[0] != _RECOVERY_HASH_PREFIX:
        return None
    try:
        salt = bytes.fromhex(parts[1])
        digest = bytes.fromhex(parts[2])
    except ValueError:
        return None
    if not salt or len(digest) != hashlib.sha256().digest_size:
        return None
    return salt, digest


def match_recovery_code(code: str, hashes: Iterable[str]) -> str | None:
    """The stored hash that a recovery code the user typed matches.

    The caller deletes that hash, so that the code is good once. Case, spaces
    and dashes in ``code`` do not matter; input that is not the form of a
    recovery code is refused without computing anything. Otherwise every hash
    is checked, in constant time and with no early exit. Malformed stored
    values never match.

    Args:
        code: What the user typed.
        hashes: The user's stored :func:`hash_recovery_code` values.

    Returns:
        The element of ``hashes`` that matched, or None.
    """
    cleaned = _clean_recovery_code(code)
    if cleaned is None:
        return None
    matched: str | None = None
    for stored in hashes:
        parsed = _parse_recovery_hash(stored)
        if parsed is None:
            continue
        salt, digest = parsed
        same = hmac.compare_digest(_recovery_digest(salt, cleaned), digest)
        if same and matched is None:
            matched = stored
    return matched
