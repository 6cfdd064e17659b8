"""Kettle: a Python web framework that starts as small as Flask and grows as far as
Django."""

from typing import TYPE_CHECKING
from typing import Any

from .app import Kettle as Kettle
from .blueprints import Blueprint as Blueprint
from .context import current_app as current_app
from .context import request as request
from .context import session as session
from .datastructures import Headers as Headers
from .datastructures import QueryParams as QueryParams
from .exceptions import HTTPException as HTTPException
from .exceptions import abort as abort
from .helpers import redirect as redirect
from .helpers import url_for as url_for
from .params import Body as Body
from .params import Cookie as Cookie
from .params import Depends as Depends
from .params import File as File
from .params import Form as Form
from .params import Header as Header
from .params import Path as Path
from .params import Query as Query
from .params import requires as requires
from .requests import Request as Request
from .responses import EventSourceResponse as EventSourceResponse
from .responses import HTMLResponse as HTMLResponse
from .responses import JSONResponse as JSONResponse
from .responses import PlainTextResponse as PlainTextResponse
from .responses import RedirectResponse as RedirectResponse
from .responses import Response as Response
from .responses import ServerSentEvent as ServerSentEvent
from .responses import StreamingResponse as StreamingResponse
from .sessions import flash as flash
from .sessions import get_flashed_messages as get_flashed_messages
from .views import View as View
from .websockets import WebSocket as WebSocket

if TYPE_CHECKING:
    from .formparsers import FormData as FormData
    from .formparsers import UploadFile as UploadFile

__version__ = "0.1.0.dev0"


def __getattr__(name: str) -> Any:
    # NOTE: the form parser (and tempfile) load on first use, keeping import fast.
    if name in ("FormData", "UploadFile"):
        from . import formparsers

        return getattr(formparsers, name)
    raise AttributeError(f"module 'kettle' has no attribute {name!r}")


__all__ = (
    "Blueprint",
    "Body",
    "Cookie",
    "Depends",
    "EventSourceResponse",
    "File",
    "Form",
    "FormData",
    "Header",
    "HTMLResponse",
    "HTTPException",
    "Headers",
    "JSONResponse",
    "Kettle",
    "Path",
    "PlainTextResponse",
    "Query",
    "QueryParams",
    "RedirectResponse",
    "Request",
    "Response",
    "ServerSentEvent",
    "StreamingResponse",
    "UploadFile",
    "View",
    "WebSocket",
    "__version__",
    "abort",
    "current_app",
    "flash",
    "get_flashed_messages",
    "redirect",
    "request",
    "requires",
    "session",
    "url_for",
)
