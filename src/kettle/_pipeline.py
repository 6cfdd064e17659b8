"""The per-route pipeline: hooks, handler, error handlers, in a sync and an async form.

PERF: a route whose handler and hooks are all ``def`` functions runs its whole
pipeline in one call: straight on the server's thread under WSGI, and in one thread
pool hop under ASGI. Otherwise the async form runs on the event loop and sends each
sync piece to the thread pool. The two forms are kept side by side on purpose.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING
from typing import Any

from .concurrency import run_in_threadpool
from .concurrency import run_sync
from .handlers import HandlerPlan
from .handlers import make_response
from .requests import Request
from .responses import Response
from .scaffold import RouteInfo

if TYPE_CHECKING:
    from .app import Kettle

__all__ = ("Pipeline",)

Hook = Callable[..., Any]


def is_async(func: Callable[..., Any]) -> bool:
    """Whether calling ``func`` gives a coroutine (decided once, at start-up)."""
    import inspect

    return inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(
        getattr(func, "__call__", None)  # noqa: B004 - async callable objects
    )


class Pipeline:
    """Everything needed to answer a request routed to one handler."""

    __slots__ = (
        "after",
        "all_sync",
        "app",
        "before",
        "blueprint",
        "call",
        "csrf",
        "direct",
        "func",
        "info",
        "plain",
        "plain_async",
        "plan",
        "reads_body",
        "teardown",
        "view",
    )

    def __init__(
        self,
        app: Kettle,
        plan: HandlerPlan,
        blueprint: str | None,
        view: tuple[type, str] | None = None,
    ) -> None:
        self.app = app
        self.plan = plan
        self.blueprint = blueprint
        self.view = view
        self.info = RouteInfo()  # the route's options, set by the app
        self.call: Callable[[Request], Any] = plan.call_sync
        if view is not None:
            self.call = self._call_view
        # PERF: a handler taking only path parameters is called without a plan.
        self.func = plan.func
        self.direct = plan.simple and view is None
        #: A sync handler reading the body: it is read on the loop first (ASGI).
        self.reads_body = bool(plan.body or plan.form)
        #: Unsafe methods are checked for CSRF (set by the app at start-up).
        self.csrf = False
        self.finalize([], [], [])

    def finalize(
        self, before: list[Hook], after: list[Hook], teardown: list[Hook]
    ) -> None:
        """Fix the hooks that apply to this route (at start-up)."""
        self.before = tuple((h, is_async(h)) for h in before)
        self.after = tuple((h, is_async(h)) for h in after)
        self.teardown = tuple((h, is_async(h)) for h in teardown)
        hooks = self.before + self.after
        self.all_sync = not self.plan.needs_loop and not any(a for _, a in hooks)
        #: A handler of path parameters only and no hooks, called in one line:
        #: ``def`` (``plain``) or ``async def`` (``plain_async``).
        self.plain = self.direct and self.all_sync and not hooks
        self.plain_async = self.direct and self.plan.is_async and not hooks

    def _call_view(self, request: Request) -> Any:
        assert self.view is not None
        cls, method = self.view
        return self.plan.call_sync(request, getattr(cls(), method))

    async def _call_async(self, request: Request) -> Any:
        if self.view is None:
            return await self.plan.call_async(request)
        cls, method = self.view
        return await self.plan.call_async(request, getattr(cls(), method))

    # -- sync -------------------------------------------------------------------

    def run_sync(self, request: Request) -> Response:
        """Run hooks and handler; every piece is sync."""
        try:
            response = None
            for hook, _ in self.before:
                rv = hook()
                if rv is not None:
                    response = make_response(rv)
                    break
            if response is None:
                if self.direct:
                    rv = self.func(**request.path_params)
                else:
                    rv = self.call(request)
                response = make_response(rv)
        except Exception as exc:
            response = self.app.handle_user_error_sync(request, exc, self.blueprint)
        for hook, _ in self.after:
            response = hook(response) or response
        return response

    # -- async ------------------------------------------------------------------

    async def run_async(self, request: Request) -> Response:
        """Run hooks and handler on the loop; sync pieces go to the thread pool."""
        try:
            response = None
            for hook, hook_async in self.before:
                rv = await hook() if hook_async else await run_in_threadpool(hook)
                if rv is not None:
                    response = make_response(rv)
                    break
            if response is None:
                if self.direct and self.plan.is_async:
                    rv = await self.func(**request.path_params)
                elif self.plan.needs_loop:
                    rv = await self._call_async(request)
                else:
                    if self.reads_body:
                        await read_body(request, self.plan)
                    rv = await run_in_threadpool(self.call, request)
                response = make_response(rv)
        except Exception as exc:
            response = await self.app.handle_user_error_async(
                request, exc, self.blueprint
            )
        for hook, hook_async in self.after:
            if hook_async:
                response = await hook(response) or response
            else:
                response = await run_in_threadpool(hook, response) or response
        return response


async def read_body(request: Request, plan: HandlerPlan) -> None:
    """Read the body (or form) on the event loop, before a sync handler's thread
    pool hop, so that the handler finds it in memory."""
    if plan.form:
        await request.form()
    else:
        await request.body()


def call_hook_sync(hook: Hook, hook_async: bool, *args: Any) -> Any:
    """Call a hook from sync code, whatever its kind."""
    if hook_async:
        return run_sync(hook(*args))
    return hook(*args)


async def call_hook_async(hook: Hook, hook_async: bool, *args: Any) -> Any:
    """Call a hook from async code; a sync hook runs in the thread pool."""
    if hook_async:
        return await hook(*args)
    return await run_in_threadpool(hook, *args)
