"""Middleware: the :class:`HTTPMiddleware` base and the built-ins."""

from .base import HTTPMiddleware as HTTPMiddleware
from .cors import CORSMiddleware as CORSMiddleware
from .gzip import GZipMiddleware as GZipMiddleware
from .proxy import ProxyHeadersMiddleware as ProxyHeadersMiddleware
from .request_id import RequestIDMiddleware as RequestIDMiddleware
from .trustedhost import TrustedHostMiddleware as TrustedHostMiddleware

__all__ = (
    "CORSMiddleware",
    "GZipMiddleware",
    "HTTPMiddleware",
    "ProxyHeadersMiddleware",
    "RequestIDMiddleware",
    "TrustedHostMiddleware",
)
