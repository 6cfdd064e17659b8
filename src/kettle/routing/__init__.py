"""Routing: route paths, converters and the route table."""

from .converters import Converter as Converter
from .converters import register_converter as register_converter
from .router import BaseRoute as BaseRoute
from .router import Mount as Mount
from .router import Route as Route
from .router import Router as Router
from .router import WebSocketRoute as WebSocketRoute
from .rules import PathPattern as PathPattern

__all__ = (
    "BaseRoute",
    "Converter",
    "Mount",
    "PathPattern",
    "Route",
    "Router",
    "WebSocketRoute",
    "register_converter",
)
