"""Password hashing: Argon2id for new hashes, and verification of the formats
other frameworks stored.

:func:`hash_password` makes an Argon2id hash in argon2's own PHC string form
(``$argon2id$v=19$m=65536,t=3,p=4$<salt>$<hash>``), with the RFC 9106
low-memory parameters by default. :func:`check_password` verifies it, and also:

- Argon2 in any variant (``$argon2id$``, ``$argon2i$``, ``$argon2d$``), bare or
  in Django's form (``argon2$argon2id$...``);
- Django's PBKDF2 (``pbkdf2_sha256$<iterations>$<salt>$<base64 hash>`` and
  ``pbkdf2_sha1$...``);
- Django's bcrypt (``bcrypt_sha256$$2b$...``, bcrypt over the hex SHA-256 of
  the password, and ``bcrypt$$2b$...``) and bare bcrypt (``$2a$``, ``$2b$``,
  ``$2y$``). These need ``pip install 'kettle[bcrypt]'``.

After a successful check, :func:`needs_rehash` says whether the stored hash
should be replaced by a fresh :func:`hash_password` (another format, or older
Argon2 parameters): the login code does so, and users move to the current hash
as they log in.

A check against no hash (an unknown user), an unusable one or one that cannot be
read still verifies the password against a dummy Argon2 hash made with the
current parameters, so that it takes as long as a wrong password does: the time
of a login does not tell whether the user exists.

The parameters are set for the whole process by :func:`configure`;
:func:`set_test_parameters` makes hashing cheap for test suites.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import string
from types import ModuleType

from ..exceptions import ImproperlyConfigured

try:
    import argon2
    from argon2.exceptions import InvalidHashError
    from argon2.exceptions import VerificationError
    from argon2.exceptions import VerifyMismatchError
except ImportError as exc:  # pragma: no cover - depends on the install
    raise ImproperlyConfigured(
        "kettle.auth needs argon2-cffi: pip install 'kettle[auth]'"
    ) from exc

__all__ = (
    "DEFAULT_MEMORY_COST",
    "DEFAULT_PARALLELISM",
    "DEFAULT_TIME_COST",
    "MAX_PASSWORD_LENGTH",
    "UNUSABLE_PASSWORD_PREFIX",
    "Hasher",
    "check_password",
    "configure",
    "get_hasher",
    "hash_password",
    "identify",
    "is_usable",
    "make_unusable_password",
    "needs_rehash",
    "set_test_parameters",
)

#: Argon2 passes over memory (RFC 9106, second recommended option).
DEFAULT_TIME_COST = 3
#: Argon2 memory in KiB (64 MiB; RFC 9106, second recommended option).
DEFAULT_MEMORY_COST = 65536
#: Argon2 lanes (RFC 9106, second recommended option).
DEFAULT_PARALLELISM = 4
#: Longest password :func:`hash_password` accepts, in characters. Longer ones
#: are refused there, and never match in :func:`check_password`.
MAX_PASSWORD_LENGTH = 4096
#: What an unusable password (:func:`make_unusable_password`) starts with.
UNUSABLE_PASSWORD_PREFIX = "!"  # noqa: S105 - a marker, not a password

_HASH_LEN = 32
_SALT_LEN = 16
_UNUSABLE_SUFFIX_LENGTH = 40
_ALPHABET = string.ascii_letters + string.digits
_BCRYPT_MAX_BYTES = 72  # bcrypt reads no further than this
_BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")
_ARGON2_PREFIXES = ("$argon2id$", "$argon2i$", "$argon2d$")
_PBKDF2_DIGESTS = {"pbkdf2_sha256": "sha256", "pbkdf2_sha1": "sha1"}
# Django's "<algorithm>$<the rest>" forms this module reads.
_DJANGO_ALGORITHMS = frozenset((*_PBKDF2_DIGESTS, "argon2", "bcrypt_sha256", "bcrypt"))
_MAX_ITERATIONS = 2**31 - 1  # hashlib's limit


def _encode(password: str) -> bytes:
    # NOTE: "surrogatepass" so that a str holding a lone surrogate (which some
    # decoders let through) hashes and checks like any other, instead of raising.
    return password.encode("utf-8", "surrogatepass")


class Hasher:
    """Argon2id hashing with fixed parameters, and the dummy hash that a check
    with no stored hash verifies the password against.

    The module's functions use one process-wide instance (:func:`get_hasher`),
    replaced by :func:`configure`. Make one directly to hash with other
    parameters than the process's.

    Args:
        time_cost: Passes over the memory.
        memory_cost: Memory in KiB; at least ``8 * parallelism``.
        parallelism: Lanes computed in parallel.

    Raises:
        ValueError: A parameter is out of Argon2's range.
    """

    def __init__(
        self,
        *,
        time_cost: int = DEFAULT_TIME_COST,
        memory_cost: int = DEFAULT_MEMORY_COST,
        parallelism: int = DEFAULT_PARALLELISM,
    ) -> None:
        if time_cost < 1:
            raise ValueError(f"time_cost must be at least 1, not {time_cost}")
        if parallelism < 1:
            raise ValueError(f"parallelism must be at least 1, not {parallelism}")
        if memory_cost < 8 * parallelism:
            raise ValueError(
                "memory_cost must be at least 8 KiB per lane "
                f"({8 * parallelism} for parallelism={parallelism}), not {memory_cost}"
            )
        self.time_cost = time_cost
        self.memory_cost = memory_cost
        self.parallelism = parallelism
        self._argon2 = argon2.PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_cost,
            parallelism=parallelism,
            hash_len=_HASH_LEN,
            salt_len=_SALT_LEN,
            type=argon2.Type.ID,
        )
        self._dummy: str | None = None

    def __repr__(self) -> str:
        return (
            f"Hasher(time_cost={self.time_cost}, memory_cost={self.memory_cost}, "
            f"parallelism={self.parallelism})"
        )

    @property
    def dummy_hash(self) -> str:
        """An Argon2id hash of a random password, made with these parameters on
        first use: what a check against no hash verifies against."""
        if self._dummy is None:
            self._dummy = self._argon2.hash(secrets.token_bytes(16))
        return self._dummy

    def hash(self, password: str) -> str:
        """Hash ``password`` with Argon2id (see :func:`hash_password`)."""
        if len(password) > MAX_PASSWORD_LENGTH:
            raise ValueError(
                f"a password may be at most {MAX_PASSWORD_LENGTH} characters long"
            )
        return self._argon2.hash(_encode(password))

    def check(self, password: str, encoded: str | None) -> bool:
        """Whether ``password`` matches ``encoded`` (see :func:`check_password`)."""
        dummy = self.dummy_hash  # made before any path is timed, on every path
        secret = _encode(password)
        matched: bool | None = None
        if isinstance(encoded, str) and len(password) <= MAX_PASSWORD_LENGTH:
            matched = _verify(self, secret, encoded)
        if matched is None:  # nothing was verified: spend the time of a check
            self._argon2_verify(dummy, secret)
            return False
        return matched

    def needs_rehash(self, encoded: str) -> bool:
        """Whether ``encoded`` should be replaced (see :func:`needs_rehash`)."""
        if not is_usable(encoded):
            return False
        if not encoded.startswith("$argon2id$"):
            return True
        try:
            return self._argon2.check_needs_rehash(encoded)
        except (ValueError, VerificationError):
            return True

    def _argon2_verify(self, encoded: str, secret: bytes) -> bool | None:
        try:
            return self._argon2.verify(encoded, secret)
        except VerifyMismatchError:
            return False
        except (InvalidHashError, VerificationError, ValueError):
            # Not an Argon2 hash, not ASCII, or one Argon2 cannot decode: nothing
            # was computed.
            return None


_hasher = Hasher()


def get_hasher() -> Hasher:
    """The :class:`Hasher` the module's functions use."""
    return _hasher


def configure(
    *,
    time_cost: int = DEFAULT_TIME_COST,
    memory_cost: int = DEFAULT_MEMORY_COST,
    parallelism: int = DEFAULT_PARALLELISM,
) -> Hasher:
    """Set the Argon2 parameters new hashes are made with, for the whole process.

    Arguments left out take the defaults (RFC 9106's low-memory option: 3 passes
    over 64 MiB in 4 lanes), so ``configure()`` restores them. Hashes made with
    other parameters still verify, and :func:`needs_rehash` says they are due
    for replacement.

    Args:
        time_cost: Passes over the memory.
        memory_cost: Memory in KiB; at least ``8 * parallelism``.
        parallelism: Lanes computed in parallel.

    Returns:
        The new :class:`Hasher`.

    Raises:
        ValueError: A parameter is out of Argon2's range.
    """
    global _hasher
    _hasher = Hasher(
        time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism
    )
    return _hasher


def set_test_parameters() -> Hasher:
    """Make hashing cheap (one pass over 8 KiB, one lane) for a test suite.

    Never in production: these hashes are fast to guess. Call it from a
    ``conftest.py``; :func:`configure` with no arguments restores the defaults.

    Returns:
        The new :class:`Hasher`.
    """
    return configure(time_cost=1, memory_cost=8, parallelism=1)


def hash_password(password: str) -> str:
    """Hash a password with Argon2id and a fresh random salt.

    Args:
        password: The password, as the user typed it.

    Returns:
        argon2's PHC string, such as ``$argon2id$v=19$m=65536,t=3,p=4$...``.

    Raises:
        ValueError: The password is longer than :data:`MAX_PASSWORD_LENGTH`
            characters (the validator ``MaximumLength`` tells the user first).
    """
    return _hasher.hash(password)


def check_password(password: str, encoded: str | None) -> bool:
    """Whether ``password`` matches the stored hash ``encoded``, in any of the
    formats listed in the module's documentation. Hashes are compared in
    constant time.

    A hash that is None (no such user), unusable, of an unknown format or
    malformed never matches; the password is then verified against a dummy
    Argon2 hash made with the current parameters, so the call takes as long as
    checking a wrong password does.

    Bare bcrypt and Django's ``bcrypt$`` read only the first 72 bytes of the
    password, as bcrypt did when it made those hashes: a longer password is cut
    there, and matches when its first 72 bytes do.

    Args:
        password: The password, as the user typed it.
        encoded: The stored hash, or None when there is none.

    Raises:
        ImproperlyConfigured: ``encoded`` is a bcrypt hash and bcrypt is not
            installed (``pip install 'kettle[bcrypt]'``).
    """
    return _hasher.check(password, encoded)


def needs_rehash(encoded: str) -> bool:
    """Whether a hash that just matched should be replaced by a fresh
    :func:`hash_password` of the same password.

    True for every hash that is not a bare Argon2id one (including Django's
    ``argon2$argon2id$`` form) and for Argon2id made with other parameters than
    the current ones; False for an unusable password (there is nothing to
    upgrade).
    """
    return _hasher.needs_rehash(encoded)


def make_unusable_password() -> str:
    """A value to store for a user who must not log in with a password (one who
    signs in through another site, or is locked out): ``!`` and 40 random
    letters and digits, which no password matches."""
    suffix = "".join(secrets.choice(_ALPHABET) for _ in range(_UNUSABLE_SUFFIX_LENGTH))
    return UNUSABLE_PASSWORD_PREFIX + suffix


def is_usable(encoded: str | None) -> bool:
    """Whether ``encoded`` is a stored password at all: False for None, the empty
    string and :func:`make_unusable_password`'s values. A usable one may still
    be malformed (:func:`identify` tells its format)."""
    if not encoded:
        return False
    return not encoded.startswith(UNUSABLE_PASSWORD_PREFIX)


def identify(encoded: str | None) -> str | None:
    """The name of the algorithm that made ``encoded``, read from its prefix:
    ``"argon2"``, ``"pbkdf2_sha256"``, ``"pbkdf2_sha1"``, ``"bcrypt_sha256"`` or
    ``"bcrypt"``; None for an unusable password or an unknown format."""
    if not encoded or not is_usable(encoded):
        return None
    if encoded.startswith(_ARGON2_PREFIXES):
        return "argon2"
    if encoded.startswith(_BCRYPT_PREFIXES):
        return "bcrypt"
    name, sep, _ = encoded.partition("$")
    if sep and name in _DJANGO_ALGORITHMS:
        return name
    return None


# -- verification ---------------------------------------------------------------------


def _verify(hasher: Hasher, secret: bytes, encoded: str) -> bool | None:
    """Whether ``secret`` matches ``encoded``; None when ``encoded`` could not be
    verified at all (unknown format, malformed), so no time was spent."""
    algorithm = identify(encoded)
    if algorithm == "argon2":
        if encoded.startswith("argon2$"):
            encoded = encoded[len("argon2") :]  # Django's form: "argon2" + PHC
        return hasher._argon2_verify(encoded, secret)
    if algorithm in _PBKDF2_DIGESTS:
        return _verify_pbkdf2(secret, encoded)
    if algorithm == "bcrypt_sha256":  # Django: bcrypt of the hex SHA-256
        digest = hashlib.sha256(secret).hexdigest().encode("ascii")
        return _verify_bcrypt(digest, encoded.partition("$")[2])
    if algorithm == "bcrypt":
        if encoded.startswith("bcrypt$"):
            encoded = encoded.partition("$")[2]  # Django: "bcrypt$" + bcrypt's
        return _verify_bcrypt(secret[:_BCRYPT_MAX_BYTES], encoded)
    return None


def _verify_pbkdf2(secret: bytes, encoded: str) -> bool | None:
    """Django's ``pbkdf2_<digest>$<iterations>$<salt>$<base64 of the hash>``."""
    parts = encoded.split("$")
    if len(parts) != 4:
        return None
    algorithm, iterations_text, salt, hash_text = parts
    if not (iterations_text.isascii() and iterations_text.isdigit()) or not salt:
        return None
    iterations = int(iterations_text)
    if not 0 < iterations <= _MAX_ITERATIONS:
        return None
    try:
        expected = base64.b64decode(hash_text.encode("ascii"), validate=True)
        salt_bytes = salt.encode("utf-8")  # as Django does
    except (binascii.Error, ValueError):
        return None
    if not expected:
        return None
    digest = _PBKDF2_DIGESTS[algorithm]
    computed = hashlib.pbkdf2_hmac(digest, secret, salt_bytes, iterations)
    return hmac.compare_digest(computed, expected)


def _verify_bcrypt(secret: bytes, encoded: str) -> bool | None:
    """bcrypt's own ``$2b$<cost>$<salt and hash>`` (also ``$2a$``, ``$2y$``)."""
    if not encoded.startswith(_BCRYPT_PREFIXES):
        return None
    bcrypt = _bcrypt()
    try:
        stored = encoded.encode("ascii")
        computed = bcrypt.hashpw(secret, stored)
    except ValueError:  # not ASCII, or bcrypt cannot read it ("Invalid salt")
        return None
    return hmac.compare_digest(computed, stored)


def _bcrypt() -> ModuleType:
    try:
        import bcrypt
    except ImportError as exc:
        raise ImproperlyConfigured(
            "checking a bcrypt password hash needs bcrypt: pip install 'kettle[bcrypt]'"
        ) from exc
    return bcrypt
