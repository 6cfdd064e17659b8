"""How entries are written into a shared store (Redis, a database table).

Integers are kept as their decimal digits (so Redis can ``INCRBY`` them
atomically). Everything else is pickled, and the pickle is signed: ``p``, an
HMAC-SHA256 of the pickle under a key derived from ``SECRET_KEY``, then the
pickle. A value whose signature does not verify (written by something that
does not know the secret key, or under an older key) is never unpickled: it
reads as a miss. Someone who can write into the store can therefore destroy
entries but not run code in the app through ``pickle``, unless they also hold
``SECRET_KEY``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import pickle
import time
from typing import Any

from .base import MISSING

__all__ = ("SignedPickle",)

log = logging.getLogger("kettle.cache")

_INT64 = 2**63
_TAG = b"p"
_MAC_SIZE = 32
_WARN_EVERY = 60.0


class SignedPickle:
    """Turns entries into bytes and back (see the module's description).

    Args:
        secret: The app's ``SECRET_KEY``.
    """

    def __init__(self, secret: str | bytes) -> None:
        raw = secret.encode() if isinstance(secret, str) else secret
        self._key = hashlib.sha256(b"kettle.cache.signed-pickle\x00" + raw).digest()
        self._warned_at = -_WARN_EVERY

    def dumps(self, entry: Any) -> bytes:
        """The bytes stored for ``entry``."""
        if type(entry) is int and -_INT64 <= entry < _INT64:
            return str(entry).encode("ascii")
        data = pickle.dumps(entry, protocol=pickle.HIGHEST_PROTOCOL)
        mac = hmac.new(self._key, data, hashlib.sha256).digest()
        return _TAG + mac + data

    def loads(self, raw: bytes | str | None) -> Any:
        """The entry of stored bytes; MISSING for None or bytes that do not
        verify."""
        if raw is None:
            return MISSING
        if isinstance(raw, str):
            raw = raw.encode("latin-1")
        if raw[:1] != _TAG:
            try:
                return int(raw)
            except ValueError:
                return self._refused("it is neither an integer nor a signed pickle")
        mac = raw[1 : 1 + _MAC_SIZE]
        data = raw[1 + _MAC_SIZE :]
        expected = hmac.new(self._key, data, hashlib.sha256).digest()
        if not hmac.compare_digest(mac, expected):
            return self._refused("its signature does not match SECRET_KEY")
        return pickle.loads(data)  # noqa: S301 - signed with the app's secret

    def _refused(self, why: str) -> Any:
        now = time.monotonic()
        if now - self._warned_at >= _WARN_EVERY:
            self._warned_at = now
            log.warning(
                "cache: an entry was ignored (read as a miss) because %s: "
                "was it written by another app or under an older SECRET_KEY?",
                why,
            )
        return MISSING
