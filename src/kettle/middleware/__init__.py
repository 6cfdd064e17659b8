"""Middleware: the :class:`HTTPMiddleware` base and the built-ins.

The built-ins load when first used (``from kettle.middleware import GZipMiddleware``),
so the core does not pay for their imports.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING
from typing import Any

from .base import HTTPMiddleware as HTTPMiddleware

if TYPE_CHECKING:
    from .access_log import AccessLogMiddleware as AccessLogMiddleware
    from .cors import CORSMiddleware as CORSMiddleware
    from .gzip import GZipMiddleware as GZipMiddleware
    from .proxy import ProxyHeadersMiddleware as ProxyHeadersMiddleware
    from .request_id import RequestIDMiddleware as RequestIDMiddleware
    from .trustedhost import TrustedHostMiddleware as TrustedHostMiddleware

__all__ = (
    "AccessLogMiddleware",
    "CORSMiddleware",
    "GZipMiddleware",
    "HTTPMiddleware",
    "ProxyHeadersMiddleware",
    "RequestIDMiddleware",
    "TrustedHostMiddleware",
)

_MODULES = {
    "AccessLogMiddleware": "access_log",
    "CORSMiddleware": "cors",
    "GZipMiddleware": "gzip",
    "ProxyHeadersMiddleware": "proxy",
    "RequestIDMiddleware": "request_id",
    "TrustedHostMiddleware": "trustedhost",
}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)
