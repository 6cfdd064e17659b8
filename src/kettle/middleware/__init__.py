"""Middleware: the :class:`HTTPMiddleware` base and the built-ins."""

from .base import HTTPMiddleware as HTTPMiddleware

__all__ = ("HTTPMiddleware",)
