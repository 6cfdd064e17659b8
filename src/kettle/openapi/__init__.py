"""The OpenAPI 3.1 document of an app, and the interactive docs page.

The document is built from what the routes already declare: paths and methods,
the typed parameters and bodies of the handler plans (dependencies' parameters
included), response models, status codes, tags and docstrings. The JSON Schemas
come from pydantic, all in one pass so that each model appears once under
``components/schemas``.

An app serves it at ``OPENAPI_URL`` (default ``/openapi.json``) and the Swagger UI
page at ``DOCS_URL`` (default ``/docs``); set either to None to turn it off. The
document is built on its first request and kept.
"""

from __future__ import annotations

import enum
import inspect
import re
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING
from typing import Any

from ..handlers import HandlerPlan
from ..handlers import RequestField
from ..handlers import with_rules
from ..params import Param
from ..routing.converters import Converter
from ..routing.converters import FloatConverter
from ..routing.converters import IntConverter
from ..routing.converters import SlugConverter
from ..routing.converters import UUIDConverter

if TYPE_CHECKING:
    from ..app import Kettle
    from ..routing import Route
    from ..scaffold import RouteInfo

__all__ = ("install", "openapi_document")

_PARAM_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::[^}]*)?\}")
_CONVERTER_SCHEMAS: dict[type[Converter], dict[str, Any]] = {
    IntConverter: {"type": "integer", "minimum": 0},
    FloatConverter: {"type": "number", "minimum": 0},
    UUIDConverter: {"type": "string", "format": "uuid"},
    SlugConverter: {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$"},
}
_REF = "#/components/schemas/{model}"
_VALIDATION_ERROR = {
    "title": "ValidationError",
    "type": "object",
    "required": ["loc", "msg", "type"],
    "properties": {
        "loc": {
            "title": "Location",
            "type": "array",
            "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
        },
        "msg": {"title": "Message", "type": "string"},
        "type": {"title": "Error Type", "type": "string"},
        "input": {"title": "Input"},
        "ctx": {"title": "Context", "type": "object"},
    },
}
_HTTP_VALIDATION_ERROR = {
    "title": "HTTPValidationError",
    "type": "object",
    "properties": {
        "detail": {
            "title": "Detail",
            "type": "array",
            "items": {"$ref": "#/components/schemas/ValidationError"},
        }
    },
}
_STATUS_TEXT = {
    200: "Successful Response",
    201: "Created",
    202: "Accepted",
    204: "No Content",
}


def openapi_path(path: str) -> str:
    """``/items/{id:int}`` -> ``/items/{id}``."""
    return _PARAM_RE.sub(r"{\1}", path)


class _Schemas:
    """Collects every type needing a JSON Schema, then makes them in one pass."""

    def __init__(self) -> None:
        self.inputs: list[tuple[int, str, Any]] = []
        self.slots: list[tuple[dict[str, Any], str]] = []
        #: Touches to make once the schemas are in place.
        self.later: list[Callable[[], Any]] = []

    def ask(self, annotation: Any, mode: str, into: dict[str, Any], key: str) -> None:
        """Put the schema of ``annotation`` at ``into[key]`` once resolved."""
        from pydantic import TypeAdapter

        self.inputs.append((len(self.inputs), mode, TypeAdapter(annotation)))
        self.slots.append((into, key))

    def resolve(self) -> dict[str, Any]:
        from pydantic import TypeAdapter

        if not self.inputs:
            return {}
        found, defs = TypeAdapter.json_schemas(
            self.inputs,  # type: ignore[arg-type]
            ref_template=_REF,
        )
        for (index, mode, _), (into, key) in zip(self.inputs, self.slots, strict=True):
            into[key] = found[(index, mode)]  # type: ignore[index]
        for touch in self.later:
            touch()
        return dict(defs.get("$defs", {}))


def _docstring(func: Any) -> tuple[str | None, str | None]:
    doc = inspect.getdoc(func)
    if not doc:
        return None, None
    first, _, rest = doc.partition("\n")
    return first.strip() or None, rest.strip() or None


def _describe(param: dict[str, Any], info: Param) -> None:
    """A marker's description, deprecation and examples, on a parameter object."""
    if info.description:
        param["description"] = info.description
    if info.deprecated:
        param["deprecated"] = True
    if info.examples:
        param["examples"] = {
            f"example{i}": {"value": v} for i, v in enumerate(info.examples, 1)
        }


def _parameter(field: RequestField, schemas: _Schemas) -> dict[str, Any]:
    param: dict[str, Any] = {
        "name": field.key,
        "in": field.source,
        "required": field.required or field.source == "path",
    }
    info = field.info
    if info is not None:
        _describe(param, info)
    annotation = field.annotation
    if annotation is inspect.Parameter.empty:
        annotation = str
    schemas.ask(with_rules(info, annotation), "validation", param, "schema")
    default = field.default
    if not field.required and default is not None:
        if isinstance(default, enum.Enum):
            default = default.value
        if isinstance(default, str | int | float | bool | list):
            schemas.later.append(lambda: param["schema"].setdefault("default", default))
    return param


def _form_body(fields: list[RequestField], schemas: _Schemas) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    required = []
    has_file = False
    for f in fields:
        if f.source == "file":
            has_file = True
            one = {"type": "string", "format": "binary"}
            properties[f.key] = {"type": "array", "items": one} if f.many else one
        else:
            annotation = f.annotation
            if annotation is inspect.Parameter.empty:
                annotation = str
            schemas.ask(with_rules(f.info, annotation), "validation", properties, f.key)
        if f.required:
            required.append(f.key)
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    media = "multipart/form-data" if has_file else "application/x-www-form-urlencoded"
    return {"required": bool(required), "content": {media: {"schema": schema}}}


def _json_body(plan: HandlerPlan, schemas: _Schemas) -> dict[str, Any]:
    body = plan.body
    assert body is not None
    media: dict[str, Any] = {}
    if body.embedded:
        schemas.ask(body.model, "validation", media, "schema")
    else:
        f = body.fields[0]
        schemas.ask(with_rules(f.info, f.annotation), "validation", media, "schema")
    return {"required": body.required, "content": {"application/json": media}}


def _operation(
    route: Route,
    method: str,
    schemas: _Schemas,
    used_ids: set[str],
) -> dict[str, Any]:
    pipeline = route.handler
    plan: HandlerPlan = pipeline.plan
    doc = pipeline.info
    summary, description = _docstring(plan.func)
    op: dict[str, Any] = {}
    tags = list(doc.tags) or ([route.blueprint] if route.blueprint else [])
    if tags:
        op["tags"] = tags
    op["summary"] = (
        doc.summary
        or summary
        or route.name.rpartition(".")[2].replace("_", " ").capitalize()
    )
    if doc.description or description:
        op["description"] = doc.description or description
    op_id = doc.operation_id or re.sub(r"\W", "_", f"{route.name}_{method.lower()}")
    while op_id in used_ids:
        op_id += "_"
    used_ids.add(op_id)
    op["operationId"] = op_id
    if doc.deprecated:
        op["deprecated"] = True

    fields = [
        f
        for f in plan.all_fields()
        if f.source in ("path", "query", "header", "cookie")
    ]
    checked = {f.name for f in fields if f.source == "path"}
    params = []
    for name, conv in _path_converters(route):
        if name not in checked:
            param = {
                "name": name,
                "in": "path",
                "required": True,
                "schema": dict(_CONVERTER_SCHEMAS.get(type(conv), {"type": "string"})),
            }
            marker = plan.path_docs.get(name)
            if marker is not None:
                _describe(param, marker)
            params.append(param)
    for f in fields:
        if f.info is None or f.info.include_in_schema:
            params.append(_parameter(f, schemas))
    if params:
        op["parameters"] = params
    if plan.body is not None:
        op["requestBody"] = _json_body(plan, schemas)
    form = [f for f in plan.all_fields() if f.source in ("form", "file")]
    if form:
        op["requestBody"] = _form_body(form, schemas)

    op["responses"] = _responses(plan, doc, bool(fields or form), schemas)
    return op


def _responses(
    plan: HandlerPlan, doc: RouteInfo, reads_input: bool, schemas: _Schemas
) -> dict[str, Any]:
    status = doc.status_code or 200
    responses: dict[str, Any] = {}
    ok: dict[str, Any] = {"description": _STATUS_TEXT.get(status, "Success")}
    if plan.response is not None and status not in (204, 304):
        media: dict[str, Any] = {}
        schemas.ask(plan.response.annotation, "serialization", media, "schema")
        ok["content"] = {"application/json": media}
    responses[str(status)] = ok
    if reads_input or plan.body is not None:
        responses["422"] = {
            "description": "Validation Error",
            "content": {
                "application/json": {
                    "schema": {"$ref": "#/components/schemas/HTTPValidationError"}
                }
            },
        }
    for code, extra in doc.responses.items():
        entry = {k: v for k, v in extra.items() if k != "model"}
        entry.setdefault("description", "Response")
        if "model" in extra:
            media = {}
            schemas.ask(extra["model"], "serialization", media, "schema")
            entry["content"] = {"application/json": media}
        responses[str(code)] = entry
    return responses


def _path_converters(route: Route) -> list[tuple[str, Converter]]:
    return [
        (name, conv)
        for segment in route.pattern.segments
        for name, conv in zip(segment.names, segment.converters, strict=True)
    ]


def openapi_document(app: Kettle) -> dict[str, Any]:
    """Build the OpenAPI 3.1 document of ``app``'s HTTP routes."""
    from .._pipeline import Pipeline
    from ..routing import Route

    cfg = app.config
    info: dict[str, Any] = {
        "title": cfg.get("OPENAPI_TITLE") or "Kettle API",
        "version": str(cfg.get("OPENAPI_VERSION") or "0.1.0"),
    }
    if cfg.get("OPENAPI_DESCRIPTION"):
        info["description"] = cfg["OPENAPI_DESCRIPTION"]
    schemas = _Schemas()
    paths: dict[str, dict[str, Any]] = {}
    used_ids: set[str] = set()
    tags: list[str] = []
    for route in app.router.routes:
        if not isinstance(route, Route) or not isinstance(route.handler, Pipeline):
            continue
        if not route.handler.info.include_in_schema:
            continue
        item = paths.setdefault(openapi_path(route.path), {})
        for method in sorted(route.methods):
            if method in ("HEAD", "OPTIONS") and (
                route.auto_head or method == "OPTIONS"
            ):
                continue
            op = _operation(route, method, schemas, used_ids)
            item[method.lower()] = op
            tags += [t for t in op.get("tags", ()) if t not in tags]
    components = schemas.resolve()
    document: dict[str, Any] = {"openapi": "3.1.0", "info": info, "paths": paths}
    if tags:
        document["tags"] = [{"name": t} for t in tags]
    if any("422" in op["responses"] for item in paths.values() for op in item.values()):
        components["ValidationError"] = _VALIDATION_ERROR
        components["HTTPValidationError"] = _HTTP_VALIDATION_ERROR
    if components:
        document["components"] = {"schemas": dict(sorted(components.items()))}
    return document


def install(app: Kettle) -> None:
    """Add the ``OPENAPI_URL`` and ``DOCS_URL`` routes to ``app`` (at start-up)."""
    from ..exceptions import ImproperlyConfigured
    from ..responses import HTMLResponse
    from ..responses import Response
    from .docs_page import ASSETS
    from .docs_page import STATIC_DIR
    from .docs_page import docs_html

    cfg = app.config
    openapi_url = cfg.get("OPENAPI_URL")
    docs_url = cfg.get("DOCS_URL")
    if not openapi_url:
        return
    for key, url in (("OPENAPI_URL", openapi_url), ("DOCS_URL", docs_url)):
        if url and (not isinstance(url, str) or not url.startswith("/")):
            raise ImproperlyConfigured(
                f"{key} must be a path starting with '/' or None"
            )
        if url and any(route.path == url for route in app.router.routes):
            raise ImproperlyConfigured(
                f"{key} {url!r} is already a route of the app; set {key} to another "
                "path, or to None to turn it off"
            )
    lock = threading.Lock()
    cache: list[bytes] = []

    def openapi() -> Response:
        if not cache:
            with lock:
                if not cache:
                    from .. import _json

                    cache.append(_json.dumps(openapi_document(app)))
        return Response(cache[0], media_type="application/json")

    app._add_http(
        openapi_url, openapi, ["GET"], "_openapi", None, {"include_in_schema": False}
    )
    if not docs_url:
        return
    static = docs_url.rstrip("/") + "/static"
    title = str(cfg.get("OPENAPI_TITLE") or "Kettle API")
    page = docs_html(
        title=f"{title} - docs", openapi_url=openapi_url, static_url=static
    )
    files: dict[str, bytes] = {}

    def docs() -> Response:
        return HTMLResponse(page)

    def asset(name: str) -> Response:
        media = ASSETS.get(name)
        if media is None:
            return Response(b"Not Found", 404, media_type="text/plain")
        if name not in files:
            files[name] = (STATIC_DIR / name).read_bytes()
        return Response(
            files[name],
            media_type=media,
            headers={"cache-control": "public, max-age=86400"},
        )

    app._add_http(docs_url, docs, ["GET"], "_docs", None, {"include_in_schema": False})
    app._add_http(
        static + "/{name}",
        asset,
        ["GET"],
        "_docs_static",
        None,
        {"include_in_schema": False},
    )
