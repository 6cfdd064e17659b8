"""Running sync code from async code and async code from sync code."""

from __future__ import annotations

import contextvars
import functools
import sys
import threading
from collections.abc import AsyncIterator
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Coroutine
from collections.abc import Iterator
from typing import TYPE_CHECKING
from typing import Any
from typing import ParamSpec
from typing import TypeVar

if TYPE_CHECKING:
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

# NOTE: asyncio and concurrent.futures are imported on first use, not with kettle:
# they are most of the cost of "import kettle", and a served app has them loaded.

__all__ = (
    "iterate_in_threadpool",
    "run_in_threadpool",
    "run_sync",
    "set_threadpool_size",
)

P = ParamSpec("P")
T = TypeVar("T")

_executor: ThreadPoolExecutor | None = None
_pool_size = 40
_lock = threading.Lock()
_local = threading.local()


def set_threadpool_size(size: int) -> None:
    """Set how many threads run sync handlers under ASGI (default 40).

    Takes effect for the pool created next; call it before serving.
    """
    global _pool_size, _executor
    if size < 1:
        raise ValueError("the thread pool needs at least one thread")
    with _lock:
        _pool_size = size
        old, _executor = _executor, None
    if old is not None:
        old.shutdown(wait=False)


def _get_executor() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        from concurrent.futures import ThreadPoolExecutor

        with _lock:
            if _executor is None:
                _executor = ThreadPoolExecutor(
                    _pool_size, thread_name_prefix="kettle-sync"
                )
    return _executor


def run_in_threadpool(
    func: Callable[P, T], *args: P.args, **kwargs: P.kwargs
) -> Awaitable[T]:
    """Run a blocking ``func`` in Kettle's thread pool, keeping context variables.

    Returns an awaitable; the event loop stays free while ``func`` runs. Inside
    ``func``, :func:`run_sync` runs coroutines on this event loop (so a ``def``
    handler can read the request body with ``request.get_body()``).
    """
    import asyncio

    loop = asyncio.get_running_loop()
    if kwargs:
        func = functools.partial(func, **kwargs)
    call = functools.partial(
        contextvars.copy_context().run, _call_with_loop, loop, func, *args
    )
    return loop.run_in_executor(_get_executor(), call)


_STOP = object()


def _next(iterator: Iterator[T]) -> T | object:
    try:
        return next(iterator)
    except StopIteration:
        return _STOP


async def iterate_in_threadpool(iterator: Iterator[T]) -> AsyncIterator[T]:
    """Iterate a blocking iterator from async code, one item per thread hop."""
    while True:
        item = await run_in_threadpool(_next, iterator)
        if item is _STOP:
            break
        yield item  # type: ignore[misc]


class _LoopHolder:
    """A thread's event loop, closed when the thread ends (its thread-local
    storage is dropped): a WSGI server's short-lived threads leak none."""

    __slots__ = ("loop",)

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def __del__(self) -> None:
        # At interpreter exit the selectors module may be torn down already:
        # the process is ending, and its sockets with it.
        if sys.is_finalizing():
            return
        if not self.loop.is_closed() and not self.loop.is_running():
            self.loop.close()


def thread_loop() -> asyncio.AbstractEventLoop:
    """The event loop of the current thread, made on first use (for WSGI workers)."""
    import asyncio

    holder: _LoopHolder | None = getattr(_local, "loop", None)
    if holder is None or holder.loop.is_closed():
        holder = _LoopHolder(asyncio.new_event_loop())
        _local.loop = holder
    return holder.loop


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion from sync code.

    Under WSGI this uses an event loop kept per worker thread. In a thread started by
    :func:`run_in_threadpool` under ASGI, the coroutine runs on the server's loop.
    """
    import asyncio

    main_loop: asyncio.AbstractEventLoop | None = getattr(_local, "main_loop", None)
    if main_loop is not None and main_loop.is_running():
        return asyncio.run_coroutine_threadsafe(coro, main_loop).result()
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return thread_loop().run_until_complete(coro)
    coro.close()
    raise RuntimeError(
        "run_sync() was called from async code; await the coroutine instead"
    )


def _call_with_loop(
    loop: asyncio.AbstractEventLoop, func: Callable[..., T], *args: Any
) -> T:
    _local.main_loop = loop
    try:
        return func(*args)
    finally:
        _local.main_loop = None
