"""The application: settings, routes, hooks, lifespan, and both server interfaces."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import threading
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING
from typing import Any
from typing import Literal
from typing import TypeVar
from urllib.parse import quote
from urllib.parse import quote_from_bytes

from . import _asgi
from . import _wsgi
from . import csrf
from ._asgi import handle_http
from ._pipeline import Pipeline
from ._pipeline import call_hook_async
from ._pipeline import call_hook_sync
from ._pipeline import is_async
from ._pipeline import read_body
from .blueprints import Blueprint
from .concurrency import run_in_threadpool
from .concurrency import run_sync
from .concurrency import set_threadpool_size
from .config import Config
from .config import read_dotenv
from .context import app_var
from .context import request_var
from .csrf import SAFE_METHODS
from .errors import debug_response
from .errors import error_response
from .errors import logger
from .exceptions import HTTPException
from .exceptions import ImproperlyConfigured
from .handlers import HandlerPlan
from .handlers import Injectables
from .handlers import make_response
from .handlers import path_converters
from .middleware.base import HTTPMiddleware
from .requests import ClientDisconnect
from .requests import Request
from .responses import RedirectResponse
from .responses import Response
from .routing import Mount
from .routing import Route
from .routing import Router
from .routing import WebSocketRoute
from .scaffold import _UNSET
from .scaffold import RouteInfo
from .scaffold import Scaffold
from .scaffold import caller_folder
from .sessions import preload_async
from .sessions import save_async
from .views import View

if TYPE_CHECKING:
    from .formparsers import FormLimits
    from .security import HostGate
    from .security import SecurityHeaders
    from .sessions import ServerSessions
    from .tasks import Tasks
    from .testing import TestClient
    from .types import ASGIApp
    from .types import Receive
    from .types import Scope
    from .types import Send
    from .types import StartResponse
    from .types import WSGIEnviron

__all__ = ("Kettle",)

F = TypeVar("F", bound=Callable[..., Any])
Lifespan = Callable[["Kettle"], AbstractAsyncContextManager[Any]]


def _location(request: Request, path: str) -> str:
    """A same-site URL for ``path`` (decoded) keeping the request's query string."""
    url = quote(request.root_path + path, safe="/!$&'()*+,;=:@-._~")
    if request.query_string:
        url += "?" + quote_from_bytes(request.query_string, safe="/?&=%+;:@!$'()*,~-._")
    return url


def _answer_unrouted(request: Request) -> Response:
    """The handler of the fallback pipeline: answer what routing decided."""
    outcome = request.unrouted
    if isinstance(outcome, BaseException):
        raise outcome
    assert outcome is not None
    return outcome


def _overrides(middleware: HTTPMiddleware, name: str) -> bool:
    return getattr(type(middleware), name) is not getattr(HTTPMiddleware, name)


def _response_hooks(
    chain: tuple[HTTPMiddleware, ...],
) -> tuple[Callable[[Request, Response], Response], ...]:
    """The ``process_response`` hooks of ``chain`` (outermost first), inner first."""
    return tuple(
        m.process_response for m in reversed(chain) if _overrides(m, "process_response")
    )


async def _call_lifespan_hook(func: Callable[[], Any]) -> None:
    result = func()
    if is_async(func):
        await result


def _csrf_exempt(pipeline: Pipeline) -> bool:
    """Whether a route's handler, the function it wraps, or its view class is
    :func:`~kettle.csrf.csrf_exempt`."""
    view = pipeline.view
    return csrf.exempt(pipeline.plan.func) or (
        view is not None and csrf.exempt(view[0])
    )


def _default_name(endpoint: Any, path: str) -> str:
    """A route's default name: the function's name (the path for lambdas)."""
    name = getattr(endpoint, "__name__", None)
    return path if not name or name == "<lambda>" else str(name)


_gc_frozen = False


def _freeze_gc() -> None:
    """Collect the garbage of start-up, then exempt everything still alive (modules,
    routes, the app, its pools) from the cyclic garbage collector; once per process.

    PERF: a full collection walks every tracked object. Without this, a busy server
    pauses for milliseconds whenever one runs (its p99 latency shows it); with it, a
    full collection walks only what requests left behind. Objects alive now that
    later become cyclic garbage are not reclaimed, so it runs once, after start-up.
    """
    global _gc_frozen
    if not _gc_frozen:
        import gc

        _gc_frozen = True
        gc.collect()
        gc.freeze()


class Kettle(Scaffold):
    """A Kettle application: an ASGI callable, with ``app.wsgi`` as its WSGI twin.

    Args:
        settings: A settings module, class or import path (``"myapp.settings"``).
            When omitted, the ``KETTLE_SETTINGS`` environment variable names one.
        env_file: A ``.env`` file whose ``KETTLE_*`` lines count as environment
            variables (real environment variables win). None to skip.
        env_prefix: The prefix of environment variables read into the config.
        lifespan: An async context manager factory ``lifespan(app)`` wrapping the
            app's life: code before ``yield`` runs at start-up, after it at shutdown.
        **config: Settings, upper-cased (``debug=True`` sets ``DEBUG``). These win
            over every other source.
    """

    def __init__(
        self,
        *,
        settings: object | str | None = None,
        env_file: str | os.PathLike[str] | None = ".env",
        env_prefix: str = "KETTLE_",
        lifespan: Lifespan | None = None,
        **config: Any,
    ) -> None:
        super().__init__()
        self.config = Config()
        settings = (
            settings
            if settings is not None
            else os.environ.get(f"{env_prefix}SETTINGS")
        )
        if settings:
            self.config.from_object(settings)
        if env_file is not None:
            dotenv = read_dotenv(env_file)
            self.config.from_env(
                env_prefix, {k: v for k, v in dotenv.items() if k not in os.environ}
            )
        self.config.from_env(env_prefix)
        self.config.from_mapping(config)
        self.router = Router()
        self.blueprints: dict[str, Blueprint] = {}
        self.startup_funcs: list[Callable[[], Any]] = []
        self.shutdown_funcs: list[Callable[[], Any]] = []
        self.lifespan_context = lifespan
        self.state: dict[str, Any] = {}
        self._scoped: dict[str | None, Scaffold] = {None: self}
        self._middleware: list[tuple[Any, dict[str, Any]]] = []
        self._http_middleware: list[HTTPMiddleware] = []  # in the order added
        self._pipelines: list[Pipeline] = []
        self._unsafe: set[Pipeline] = set()  # routes taking an unsafe method
        self._csrf: csrf.Checks | None = None
        self._server_sessions: ServerSessions | None = None
        #: ``{provider: replacement}``: ``Depends(provider)`` calls the replacement
        #: instead, from the next request on (for tests).
        self.dependency_overrides: dict[Callable[..., Any], Callable[..., Any]] = {}
        #: ``{type: provider}``: a handler parameter annotated with ``type`` gets
        #: ``provider()``'s value, as if it were ``Depends(provider)`` (how
        #: batteries inject a database session or the current user). Register
        #: before the routes that use it.
        self.injectables: dict[Any, Callable[..., Any]] = Injectables(self)
        #: Per-app state of extensions and batteries, by name (``"db"``, ...).
        self.extensions: dict[str, Any] = {}
        #: The folder of the module that made the app: where relative files (the
        #: default SQLite database, the ``templates`` and ``static`` folders) live.
        self.root_path = caller_folder()
        #: Functions returning dicts merged into every template's context
        #: (:meth:`context_processor`).
        self.template_context_processors: list[Callable[[], Mapping[str, Any]]] = []
        self._built = False
        self._build_lock = threading.Lock()
        self._wsgi_lock = threading.Lock()
        self._wsgi_started = False
        self.limits: FormLimits
        # Request hooks run outermost first (with their position); response hooks
        # innermost first.
        self._mw_chain: tuple[HTTPMiddleware, ...] = ()
        self._mw_early: tuple[
            tuple[Callable[[Request, Response], Response], ...], ...
        ] = ()
        self._mw_request: tuple[
            tuple[int, Callable[[Request], Response | None]], ...
        ] = ()
        # The middleware that also see WebSocket handshakes (the proxy headers).
        self._ws_request: tuple[Callable[[Request], Response | None], ...] = ()
        self._mw_response: tuple[Callable[[Request, Response], Response], ...] = ()
        self._asgi_stack: ASGIApp = self._build_and_call
        self._has_asgi_middleware = False
        self._has_teardown = False
        #: Functions ``end(request)`` called inline when each request ends, before
        #: its teardown hooks (the access log, metrics and tracing observers).
        self._request_end: list[Callable[[Request], None]] = []
        self._wsgi = functools.partial(_wsgi.handle, self)
        self._direct_http = False
        self._cookie_secure = False
        #: The security headers added to every response; None when off.
        self._security: SecurityHeaders | None = None
        #: The Host check and HTTPS redirect made before routing; None when off.
        self._host_gate: HostGate | None = None
        # The gate's fast_path, which the dispatchers look requests up in (None:
        # no gate).
        self._hosts_seen: dict[Any, bool] | None = None
        self._fallback: Pipeline | None = None
        self._lifespan_stack: contextlib.AsyncExitStack | None = None

    # -- settings -----------------------------------------------------------------

    @property
    def debug(self) -> bool:
        """Whether debug mode (``DEBUG``) is on, showing tracebacks to clients."""
        return bool(self.config.get("DEBUG"))

    @debug.setter
    def debug(self, value: bool) -> None:
        self.config["DEBUG"] = value

    def _check_setup(self, what: str) -> None:
        if self._built:
            raise ImproperlyConfigured(
                f"cannot {what}: the app has already started handling requests. "
                "Register routes, hooks and middleware before serving."
            )

    # -- registration ---------------------------------------------------------------

    def add_route(
        self,
        path: str,
        endpoint: Callable[..., Any],
        methods: Iterable[str] | None = None,
        name: str | None = None,
        **options: Any,
    ) -> None:
        self._add_http(path, endpoint, methods, name, None, options)

    def add_websocket_route(
        self, path: str, endpoint: Callable[..., Any], name: str | None = None
    ) -> None:
        self._add_websocket(path, endpoint, name, None)

    def _add_http(
        self,
        path: str,
        endpoint: Callable[..., Any],
        methods: Iterable[str] | None,
        name: str | None,
        blueprint: str | None,
        options: dict[str, Any] | None = None,
    ) -> None:
        self._check_setup("add a route")
        name = name or _default_name(endpoint, path)
        if blueprint is not None:
            name = f"{blueprint}.{name}"
        info = RouteInfo(**(options or {}))
        if info.template is not None:
            if isinstance(endpoint, type):
                raise ImproperlyConfigured(
                    f"template= is for handler functions; view {endpoint.__name__} "
                    "can return render(...) itself"
                )
            from .templating import templated

            endpoint = templated(endpoint, info.template)
        plan_options: dict[str, Any] = {
            "injectables": self.injectables,
            "status_code": info.status_code,
        }
        if info.response_model is not _UNSET:
            plan_options["response_model"] = info.response_model
        if isinstance(endpoint, type) and issubclass(endpoint, View):
            verbs = (
                [m.upper() for m in methods] if methods else endpoint.defined_methods()
            )
            if not verbs:
                raise ImproperlyConfigured(
                    f"view {endpoint.__name__} defines no HTTP methods"
                )
            # requires() on the class (login_required, ...) guards every method
            class_requires = tuple(getattr(endpoint, "__kettle_requires__", ()))
            endpoint.__kettle_routed__ = True  # type: ignore[attr-defined]
            for verb in verbs:
                func = getattr(endpoint, verb.lower(), None)
                if func is None:
                    raise ImproperlyConfigured(
                        f"view {endpoint.__name__} has no method {verb.lower()}()"
                    )
                route = Route(
                    path, endpoint, [verb], name, path_converters(func), blueprint
                )
                plan = HandlerPlan(
                    func,
                    route.pattern.param_names,
                    skip_first=True,
                    requires=class_requires,
                    **plan_options,
                )
                pipeline = Pipeline(self, plan, blueprint, (endpoint, verb.lower()))
                pipeline.info = info
                self._add_pipeline(route, pipeline)
            return
        if not callable(endpoint):
            raise ImproperlyConfigured(f"{endpoint!r} is not callable")
        route = Route(
            path,
            endpoint,
            methods or ["GET"],
            name,
            path_converters(endpoint),
            blueprint,
        )
        plan = HandlerPlan(endpoint, route.pattern.param_names, **plan_options)
        pipeline = Pipeline(self, plan, blueprint)
        pipeline.info = info
        self._add_pipeline(route, pipeline)

    def _add_pipeline(self, route: Route, pipeline: Pipeline) -> None:
        route.handler = pipeline
        self.router.add(route)
        self._pipelines.append(pipeline)
        if any(m not in SAFE_METHODS for m in route.methods):
            self._unsafe.add(pipeline)

    def _add_websocket(
        self,
        path: str,
        endpoint: Callable[..., Any],
        name: str | None,
        blueprint: str | None,
    ) -> None:
        from .websockets import WebSocket

        self._check_setup("add a route")
        name = name or _default_name(endpoint, path)
        if blueprint is not None:
            name = f"{blueprint}.{name}"
        route = WebSocketRoute(
            path, endpoint, name, path_converters(endpoint), blueprint
        )
        plan = HandlerPlan(
            endpoint,
            route.pattern.param_names,
            WebSocket,
            injectables=self.injectables,
        )
        if not plan.is_async:
            raise ImproperlyConfigured(
                f"WebSocket handler {endpoint.__qualname__} must be 'async def'"
            )
        route.handler = plan
        self.router.add(route)

    def context_processor(
        self, func: Callable[[], Mapping[str, Any]]
    ) -> Callable[[], Mapping[str, Any]]:
        """Register a function whose returned dict is added to every template's
        context (the values a handler passes win)::

            @app.context_processor
            def site():
                return {"site_name": "Kettle blog"}
        """
        self._check_setup("add a context processor")
        self.template_context_processors.append(func)
        return func

    def register_blueprint(
        self, blueprint: Blueprint, url_prefix: str | None = None
    ) -> None:
        """Add a blueprint's routes, hooks and error handlers to the app.

        Args:
            blueprint: The blueprint.
            url_prefix: A path prefix, overriding the blueprint's own ``url_prefix``.
        """
        self._check_setup("register a blueprint")
        name = blueprint.name
        if name in self.blueprints:
            raise ImproperlyConfigured(
                f"a blueprint named {name!r} is already registered"
            )
        prefix = (url_prefix if url_prefix is not None else blueprint.url_prefix) or ""
        prefix = "" if prefix == "/" else prefix
        if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
            raise ImproperlyConfigured(
                f"url_prefix {prefix!r} must start with '/' and not end with '/'"
            )
        blueprint.register_tasks(self)  # @bp.task functions (none: nothing done)
        self.blueprints[name] = blueprint
        self._scoped[name] = blueprint
        for kind, path, endpoint, methods, route_name, options in blueprint.deferred:
            full = prefix + path if path != "/" or not prefix else prefix + "/"
            if kind == "http":
                self._add_http(full, endpoint, methods, route_name, name, options)
            else:
                self._add_websocket(full, endpoint, route_name, name)

    def mount(self, path: str, app: Any, name: str | None = None) -> None:
        """Serve any ASGI application under ``path`` (its ``root_path`` is set).

        Routes of this app take precedence over mounts.
        """
        self._check_setup("mount an app")
        self.router.mount(Mount(path, app, name))

    def add_middleware(self, middleware_class: Any, **options: Any) -> None:
        """Add a middleware; the last one added is the outermost.

        ``middleware_class`` is an :class:`~kettle.middleware.HTTPMiddleware` subclass
        (runs under ASGI and WSGI; made at once, so bad options fail here) or any
        ASGI middleware ``cls(app, **options)`` (made when the app starts).
        """
        self._check_setup("add middleware")
        if isinstance(middleware_class, type) and issubclass(
            middleware_class, HTTPMiddleware
        ):
            self._http_middleware.append(middleware_class(self, **options))
        else:
            self._middleware.append((middleware_class, options))

    def on_startup(self, func: F) -> F:
        """Run ``func()`` (sync or async) when the server starts."""
        self.startup_funcs.append(func)
        return func

    def on_shutdown(self, func: F) -> F:
        """Run ``func()`` (sync or async) when the server stops."""
        self.shutdown_funcs.append(func)
        return func

    def task(self, func: Any = None, /, **options: Any) -> Any:
        """Make a function a background task: ``@app.task`` or
        ``@app.task(retries=3, ...)`` (see :meth:`kettle.tasks.Tasks.task`)."""
        from .tasks import get_tasks

        return get_tasks(self).task(func, **options)

    @property
    def tasks(self) -> Tasks:
        """The app's :class:`kettle.tasks.Tasks`: its tasks, backend and
        results (``app.tasks.result(job_id)``)."""
        from .tasks import get_tasks

        return get_tasks(self)

    # -- start-up -------------------------------------------------------------------

    def setup(self) -> None:
        """Freeze the app: build the middleware stack, fix each route's hooks.

        Runs once, at the first lifespan event or request; calling it again does
        nothing. Registration is refused afterwards.
        """
        if self._built:
            return
        with self._build_lock:
            if not self._built:  # another thread may have built it meanwhile
                self._setup()
                self._built = True

    def _setup(self) -> None:
        from .formparsers import FormLimits
        from .security import HostGate
        from .security import SecurityHeaders

        cfg = self.config
        if (cfg.get("SESSION_BACKEND") or "cookie") != "cookie":
            from .sessions import backend

            made = backend(self)  # a wrong backend fails here, at start-up
            self._server_sessions = made if made.server_side else None  # type: ignore[assignment]
        if (cfg.get("CHANNELS_BACKEND") or "memory") != "memory":
            from .channels import get_backend

            get_backend(self)  # a wrong setting fails here, at start-up
        if "kettle.cache" in sys.modules or (
            (cfg.get("CACHE_BACKEND") or "memory") != "memory"
        ):
            from . import cache

            cache.setup(self)  # the cache is made now: a wrong setting fails here
        if cfg["OPENAPI_URL"]:
            from .openapi import install

            install(self)
        from .operations import install as install_operations

        install_operations(self)  # each setting's module imported only when set
        if cfg.get("STATIC_URL"):
            from . import static

            static.install(self)
        limit = cfg.get_int
        self.limits = FormLimits(
            max_body_size=limit("MAX_BODY_SIZE"),
            max_upload_size=limit("MAX_UPLOAD_SIZE"),
            max_fields=limit("MAX_FORM_FIELDS"),
            max_files=limit("MAX_FORM_FILES"),
            max_part_size=limit("MAX_FORM_PART_SIZE"),
            max_file_size=limit("MAX_FILE_SIZE", optional=True),
            spool_max_size=limit("FORM_SPOOL_SIZE"),
        )
        set_threadpool_size(limit("THREAD_POOL_SIZE"))
        checks = self._csrf = csrf.Checks(self)
        app_scope = self._scoped[None]
        for pipeline in self._pipelines:
            pipeline.csrf = (
                checks.enabled
                and pipeline in self._unsafe
                and not _csrf_exempt(pipeline)
            )
            if getattr(pipeline.plan.func, "kettle_no_hooks", False):
                # Kettle's probes (/healthz): answered whatever the Host, so
                # no hook of the app sees them.
                pipeline.finalize([], [], [])
                continue
            bp = self._scoped.get(pipeline.blueprint) if pipeline.blueprint else None
            before = list(app_scope.before_request_funcs)
            after: list[Any] = []
            teardown: list[Any] = []
            if bp is not None:
                before += bp.before_request_funcs
                after += reversed(bp.after_request_funcs)
                teardown += reversed(bp.teardown_request_funcs)
            after += reversed(app_scope.after_request_funcs)
            teardown += reversed(app_scope.teardown_request_funcs)
            pipeline.finalize(before, after, teardown)
        if self.before_request_funcs or self.after_request_funcs:
            fallback = Pipeline(self, HandlerPlan(_answer_unrouted, []), None)
            fallback.finalize(
                list(self.before_request_funcs),
                list(reversed(self.after_request_funcs)),
                list(reversed(self.teardown_request_funcs)),
            )
            self._fallback = fallback
        self._cookie_secure = bool(cfg["COOKIE_SECURE"])
        self._security = SecurityHeaders.from_config(cfg)  # wrong values fail here
        self._has_teardown = (
            bool(self.teardown_request_funcs)
            or bool(self._request_end)
            or any(p.teardown for p in self._pipelines)
        )
        self._app_teardown = tuple(
            (h, is_async(h)) for h in reversed(self.teardown_request_funcs)
        )
        stack: ASGIApp = self._asgi_core
        for cls, options in self._middleware:
            stack = cls(stack, **options)
            self._has_asgi_middleware = True
        self._asgi_stack = stack
        self._direct_http = not self._has_asgi_middleware
        # PERF: only overridden hooks are called per request.
        chain = tuple(reversed(self._http_middleware))
        self._mw_chain = chain
        self._ws_request = tuple(
            m.process_request
            for m in chain
            if getattr(m, "applies_to_websockets", False)
        )
        self._mw_request = tuple(
            (i, m.process_request)
            for i, m in enumerate(chain)
            if _overrides(m, "process_request")
        )
        self._mw_response = _response_hooks(chain)
        self._mw_early = tuple(
            _response_hooks(chain[: i + 1]) for i in range(len(chain))
        )
        # The Host check runs after the middleware, which may change the host.
        gate = HostGate.from_config(cfg)
        if gate is not None and "health" in self.extensions:
            # Load balancers probe by IP address, over plain HTTP.
            gate.exempt_paths = self.extensions["health"].paths
        self._host_gate = gate
        self._hosts_seen = None if gate is None else gate.fast_path
        # The request signals, if the program imported kettle.signals (PERF: else
        # nothing of them is on the request path).
        signals = sys.modules.get("kettle.signals")
        if signals is not None:
            signals._install_request_signals(self)

    async def startup(self) -> None:
        """Run the start-up hooks, then enter the ``lifespan`` context."""
        self.setup()
        # NOTE: sync start-up/shutdown hooks run inline: nothing is served yet (or
        # any more), and at interpreter exit the thread pool takes no new work.
        for func in self.startup_funcs:
            await _call_lifespan_hook(func)
        if self.lifespan_context is not None:
            stack = contextlib.AsyncExitStack()
            state = await stack.enter_async_context(self.lifespan_context(self))
            self._lifespan_stack = stack
            if isinstance(state, dict):
                self.state.update(state)
        if self.config["GC_FREEZE"]:
            _freeze_gc()

    async def shutdown(self) -> None:
        """Leave the ``lifespan`` context, then run the shutdown hooks."""
        stack = self._lifespan_stack
        try:
            if stack is not None:
                self._lifespan_stack = None
                await stack.aclose()
        finally:  # shutdown hooks run even when the lifespan's exit fails
            for func in self.shutdown_funcs:
                await _call_lifespan_hook(func)

    @contextlib.contextmanager
    def app_context(self) -> Iterator[Kettle]:
        """Make this app :data:`kettle.current_app` (and :func:`kettle.url_for`'s app)
        outside a request."""
        token = app_var.set(self)
        try:
            yield self
        finally:
            app_var.reset(token)

    # -- URLs -----------------------------------------------------------------------

    def url_for(
        self,
        name: str,
        /,
        *,
        _external: bool = False,
        _scheme: str | None = None,
        _anchor: str | None = None,
        _root_path: str | None = None,
        **params: Any,
    ) -> str:
        """Build the URL of the route ``name``; extra params become the query string.

        Works inside and outside a request. ``_external=True`` gives an absolute URL
        (outside a request it needs the ``SERVER_NAME`` setting).

        Raises:
            LookupError: No route is named ``name`` or a path parameter is missing.
        """
        current = request_var.get(None)
        if name.startswith("."):
            bp = (
                current.route.blueprint
                if current is not None and current.route
                else None
            )
            name = f"{bp}{name}" if bp else name[1:]
        path = self.router.url_path_for(name, params)
        if _root_path is None:
            _root_path = current.root_path if current is not None else ""
        url = _root_path + path
        if _anchor:
            url += "#" + quote(_anchor, safe="")
        if _external:
            if current is not None:
                base = f"{_scheme or current.scheme}://{current.host}"
            else:
                server = self.config.get("SERVER_NAME")
                if not server:
                    raise RuntimeError(
                        "url_for(_external=True) outside a request needs the "
                        "SERVER_NAME setting (e.g. 'example.com')"
                    )
                base = f"{_scheme or self.config['PREFERRED_URL_SCHEME']}://{server}"
            url = base + url
        return url

    # -- errors ---------------------------------------------------------------------

    def _find_error_handler(
        self, exc: BaseException, blueprint: str | None
    ) -> Callable[..., Any] | None:
        scopes = [self._scoped[blueprint], self] if blueprint else [self]
        code = exc.status_code if isinstance(exc, HTTPException) else None
        for scope in scopes:
            handlers = scope.error_handlers
            if not handlers:
                continue
            if code is not None and code in handlers:
                return handlers[code]
            for cls in type(exc).__mro__:
                if cls in handlers:
                    return handlers[cls]
        return None

    def _status_handler(
        self, code: int, blueprint: str | None
    ) -> Callable[..., Any] | None:
        """The handler registered for the status ``code`` (blueprint's first)."""
        scopes = [self._scoped[blueprint], self] if blueprint else [self]
        for scope in scopes:
            handler = scope.error_handlers.get(code)
            if handler is not None:
                return handler
        return None

    def _default_error(self, request: Request, exc: Exception) -> Response | None:
        if isinstance(exc, HTTPException):
            return error_response(request, exc.status_code, exc.detail, exc.headers)
        return None

    def _internal_error(self, request: Request, exc: Exception) -> Response:
        """Log an unhandled exception and make the 500 response (a debug page when
        ``DEBUG`` is on; never a traceback otherwise)."""
        self._record_unhandled(request, exc)
        if self.debug:
            return debug_response(request, exc)
        return error_response(request, 500)

    def _record_unhandled(self, request: Request, exc: Exception) -> None:
        logger().error("Exception on %s %s", request.method, request.path, exc_info=exc)
        request.error = exc

    def _error_plan(
        self, request: Request, exc: Exception, blueprint: str | None
    ) -> Callable[..., Any] | Response:
        """The user's handler for ``exc``, or the default response."""
        handler = self._find_error_handler(exc, blueprint)
        if handler is not None:
            return handler
        response = self._default_error(request, exc)
        if response is not None:
            return response
        # Only a handler of the 500 status gets a non-HTTP exception: one for the
        # HTTPException class expects an HTTPException.
        handler = self._status_handler(500, blueprint)
        if handler is None:
            return self._internal_error(request, exc)
        # A 500 handler answers it, but the error is still logged and reported.
        self._record_unhandled(request, exc)
        return handler

    @staticmethod
    def _error_response(exc: Exception, rv: Any) -> Response:
        response = make_response(rv)
        if isinstance(exc, HTTPException) and exc.headers:
            for key, value in exc.headers.items():  # keep Allow, WWW-Authenticate...
                response.headers.setdefault(key, value)
        return response

    def handle_user_error_sync(
        self, request: Request, exc: Exception, blueprint: str | None
    ) -> Response:
        """Answer ``exc`` raised while handling a request, from sync code."""
        if isinstance(exc, ClientDisconnect):
            raise exc  # nobody to answer
        plan = self._error_plan(request, exc, blueprint)
        if isinstance(plan, Response):
            return plan
        try:
            return self._error_response(exc, call_hook_sync(plan, is_async(plan), exc))
        except Exception as inner:
            return self._internal_error(request, inner)

    async def handle_user_error_async(
        self, request: Request, exc: Exception, blueprint: str | None
    ) -> Response:
        """Answer ``exc`` raised while handling a request, from async code."""
        if isinstance(exc, ClientDisconnect):
            raise exc  # nobody to answer
        plan = self._error_plan(request, exc, blueprint)
        if isinstance(plan, Response):
            return plan
        try:
            rv = await call_hook_async(plan, is_async(plan), exc)
            return self._error_response(exc, rv)
        except Exception as inner:
            return self._internal_error(request, inner)

    # -- dispatch ---------------------------------------------------------------------

    def _no_route(
        self, request: Request, allowed: frozenset[str]
    ) -> Pipeline | Response | Mount:
        """What answers a request no route matched: a mount, an automatic response
        (OPTIONS, a slash redirect), or the app's hooks around 404/405.

        The dispatchers match routes themselves (PERF: inlined); ``allowed`` holds
        the methods the path does accept.

        Raises:
            HTTPException: 404 or 405 (when the app has no request hooks).
        """
        if not allowed:
            mount = self.router.match_mount(request.path)
            if mount is not None:
                return mount
        outcome = self._unrouted(request, allowed)
        if self._fallback is not None:
            # The app's before/after hooks see 404s, 405s and redirects too (Flask).
            request.unrouted = outcome
            return self._fallback
        if isinstance(outcome, Response):
            return outcome
        raise outcome

    def _unrouted(
        self, request: Request, allowed: frozenset[str]
    ) -> Response | HTTPException:
        """The answer to a request no route takes: OPTIONS, 405, a slash redirect
        or 404."""
        method = request.method
        path = request.path
        if allowed:
            allow = ", ".join(sorted(allowed | {"OPTIONS"}))
            if method == "OPTIONS":
                return Response(status_code=204, headers={"allow": allow})
            return HTTPException(405, headers={"allow": allow})
        if self.config["REDIRECT_SLASHES"] and path != "/":
            other = path[:-1] if path.endswith("/") else path + "/"
            # NOTE: never "//host/...": browsers read it as a link to another site.
            if not other.startswith("//"):
                other_route, other_allowed = self.router.match(method, other)
                if other_route is not None or other_allowed:
                    return RedirectResponse(_location(request, other), 308)
        return HTTPException(404)

    def _finish(
        self,
        request: Request,
        response: Response,
        hooks: tuple[Callable[[Request, Response], Response], ...] | None = None,
    ) -> Response:
        hooks = self._mw_response if hooks is None else hooks
        if not hooks and response._cookies is None and request._session is None:
            return response  # PERF: nothing to do for most responses
        try:
            for process in hooks:
                response = process(request, response)
            if request._session is not None:
                from .sessions import save_session

                save_session(request, response)
            if response._cookies:
                response.finalize(self._cookie_secure or request.scheme == "https")
        except Exception as exc:  # a middleware or a cookie failed: still answer
            response = self._internal_error(request, exc)
        return response

    def _through_middleware(self, request: Request, response: Response) -> Response:
        """Pass an answer made before the middleware saw the request (a
        ``request_started`` receiver failed) through them, as the handler's
        answer would: their request hooks (one may answer instead), then their
        response hooks."""
        for position, process in self._mw_request:
            try:
                early = process(request)
            except Exception as exc:  # as in dispatch: every response hook runs
                return self._finish(request, self._internal_error(request, exc))
            if early is not None:
                return self._finish(request, early, self._mw_early[position])
        return self._finish(request, response)

    async def _finish_async(self, request: Request, response: Response) -> Response:
        """:meth:`_finish` for a request with a server-side session under ASGI:
        the middleware's response hooks, then the session written off the event
        loop (with what they changed), then the cookies."""
        try:
            for process in self._mw_response:
                response = process(request, response)
            await save_async(request, response)
            if response._cookies:
                response.finalize(self._cookie_secure or request.scheme == "https")
        except Exception as exc:  # a middleware or the store failed: still answer
            response = self._internal_error(request, exc)
        return response

    async def dispatch_async(self, request: Request) -> Response | Mount:  # noqa: C901 - PERF: inlined
        """Answer a request from async code (ASGI)."""
        try:
            for position, process in self._mw_request:
                early = process(request)
                if early is not None:
                    # Only the middleware the request went through see the response.
                    return self._finish(request, early, self._mw_early[position])
            seen = self._hosts_seen
            if seen is not None:
                # The Host check, after the middleware (ProxyHeadersMiddleware sets
                # the host), before routing. PERF: inlined: one look-up for a
                # request whose Host header (first, as clients send it) is known.
                try:
                    known = request.scope["headers"][0] in seen  # type: ignore[index]
                except (IndexError, TypeError):  # no headers; a list, not a tuple
                    known = False
                if not known or (
                    self._mw_request and request.host_override is not None
                ):
                    refused = self._host_gate.check(request)  # type: ignore[union-attr]
                    if refused is not None:
                        return self._finish(request, refused, self._mw_response)
            # PERF: routing inlined; see _no_route for the rest
            route, found = self.router.match(request.method, request.path)
            if route is not None:
                request.route = route
                request.path_params = found  # type: ignore[assignment]
                target = route.handler
            else:
                target = self._no_route(request, found)  # type: ignore[arg-type]
            if type(target) is Pipeline:
                if self._server_sessions is not None:
                    await preload_async(request, self._server_sessions)
                if (
                    target.csrf
                    and request.method not in SAFE_METHODS
                    and csrf.check_headers(request, self._csrf)  # type: ignore[arg-type]
                ):
                    await csrf.check_form_async(request, self._csrf)  # type: ignore[arg-type]
                if target.plain_async:
                    try:
                        params = request.path_params
                        rv = await (target.func(**params) if params else target.func())
                        response = rv if isinstance(rv, Response) else make_response(rv)
                    except Exception as exc:
                        response = await self.handle_user_error_async(
                            request, exc, target.blueprint
                        )
                elif target.all_sync:
                    if target.reads_body:
                        await read_body(request, target.plan)
                    response = await run_in_threadpool(target.run_sync, request)
                else:
                    response = await target.run_async(request)
            elif isinstance(target, Mount):
                return target
            else:
                response = target
        except Exception as exc:
            response = await self.handle_user_error_async(request, exc, None)
        if request._session is not None and self._server_sessions is not None:
            return await self._finish_async(request, response)
        if (
            self._mw_response
            or response._cookies is not None
            or request._session is not None
        ):
            return self._finish(request, response)
        return response

    def dispatch_sync(self, request: Request) -> Response | Mount:
        """Answer a request from sync code (WSGI)."""
        try:
            for position, process in self._mw_request:
                early = process(request)
                if early is not None:
                    # Only the middleware the request went through see the response.
                    return self._finish(request, early, self._mw_early[position])
            seen = self._hosts_seen
            if seen is not None and (
                request.environ.get("HTTP_HOST") not in seen  # type: ignore[union-attr]
                or (self._mw_request and request.host_override is not None)
            ):
                # The Host check: see dispatch_async.
                refused = self._host_gate.check(request)  # type: ignore[union-attr]
                if refused is not None:
                    return self._finish(request, refused, self._mw_response)
            # PERF: routing inlined; see _no_route for the rest
            route, found = self.router.match(request.method, request.path)
            if route is not None:
                request.route = route
                request.path_params = found  # type: ignore[assignment]
                target = route.handler
            else:
                target = self._no_route(request, found)  # type: ignore[arg-type]
            if type(target) is Pipeline:
                if (
                    target.csrf
                    and request.method not in SAFE_METHODS
                    and csrf.check_headers(request, self._csrf)  # type: ignore[arg-type]
                ):
                    csrf.check_form(request, self._csrf)  # type: ignore[arg-type]
                if target.plain:
                    try:
                        params = request.path_params
                        rv = target.func(**params) if params else target.func()
                        response = rv if isinstance(rv, Response) else make_response(rv)
                    except Exception as exc:
                        response = self.handle_user_error_sync(
                            request, exc, target.blueprint
                        )
                elif target.all_sync:
                    response = target.run_sync(request)
                else:
                    response = run_sync(target.run_async(request))
            elif isinstance(target, Mount):
                return target
            else:
                response = target
        except Exception as exc:
            response = self.handle_user_error_sync(request, exc, None)
        if (
            self._mw_response
            or response._cookies is not None
            or request._session is not None
        ):
            return self._finish(request, response)
        return response

    def _teardown_hooks(
        self, request: Request
    ) -> tuple[tuple[Callable[..., Any], bool], ...]:
        route = request.route
        if route is not None and isinstance(route.handler, Pipeline):
            return route.handler.teardown
        return self._app_teardown

    async def teardown_async(self, request: Request) -> None:
        """Run teardown hooks and release the request's uploads."""
        for end in self._request_end:
            end(request)
        error = request.error
        for hook, hook_async in self._teardown_hooks(request):
            try:
                await call_hook_async(hook, hook_async, error)
            except Exception:
                logger().exception("teardown_request hook %r failed", hook)
        if request._form is not None:
            await request._form.close()

    def teardown_sync(self, request: Request) -> None:
        """Sync :meth:`teardown_async`, for WSGI."""
        for end in self._request_end:
            end(request)
        error = request.error
        for hook, hook_async in self._teardown_hooks(request):
            try:
                call_hook_sync(hook, hook_async, error)
            except Exception:
                logger().exception("teardown_request hook %r failed", hook)
        if request._form is not None:
            request._form.close_sync()

    # -- interfaces -------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI interface."""
        if self._direct_http and scope["type"] == "http":
            # PERF: no ASGI middleware to go through: straight to the request.
            await handle_http(self, scope, receive, send)
        else:
            await self._asgi_stack(scope, receive, send)

    async def _build_and_call(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.setup()
        await self._asgi_stack(scope, receive, send)

    async def _asgi_core(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await handle_http(self, scope, receive, send)
        elif kind == "websocket":
            await _asgi.handle_websocket(self, scope, receive, send)
        elif kind == "lifespan":
            await _asgi.handle_lifespan(self, scope, receive, send)
        else:
            raise RuntimeError(f"Kettle does not handle ASGI scope type {kind!r}")

    @property
    def wsgi(self) -> Callable[[WSGIEnviron, StartResponse], Iterable[bytes]]:
        """The WSGI (PEP 3333) interface over the same routes, hooks and handlers.

        Start-up hooks run before the first request; shutdown hooks at exit
        (see :meth:`wsgi_shutdown`).
        """
        return self._wsgi

    def wsgi_startup(self) -> None:
        """Run start-up hooks for WSGI serving (done before the first request)."""
        with self._wsgi_lock:
            if self._wsgi_started:
                return
            run_sync(self.startup())  # a failure is raised, and tried again next time
            self._wsgi_started = True

    def wsgi_shutdown(self) -> None:
        """Run shutdown hooks for WSGI serving (register with ``atexit`` or call it
        from the server's worker-exit hook)."""
        if self._wsgi_started:
            self._wsgi_started = False
            run_sync(self.shutdown())

    def preferred_interface(self) -> Literal["asgi", "wsgi"]:
        """The interface ``kettle serve`` uses by default: WSGI when every handler
        and hook is sync and nothing needs ASGI (WebSockets, ASGI middleware or
        mounts), ASGI otherwise."""
        self.setup()
        if self._has_asgi_middleware or self.router.mounts:
            return "asgi"
        for route in self.router.routes:
            if isinstance(route, WebSocketRoute):
                return "asgi"
            if isinstance(route.handler, Pipeline) and not route.handler.all_sync:
                return "asgi"
        return "wsgi"

    def test_client(self, **kwargs: Any) -> TestClient:
        """An httpx client that drives this app in-process (see
        :class:`kettle.testing.TestClient`)."""
        from .testing import TestClient

        return TestClient(self, **kwargs)

    def __repr__(self) -> str:
        return f"<Kettle routes={len(self.router.routes)}>"
