"""Signals: let any code hear that something happened (a request started, a row
was inserted, a user logged in) without the code that does it knowing who
listens. Built on blinker (``pip install 'kettle[signals]'``), with Flask's
request signals, Django's model and auth signals, and receivers that may be
``def`` or ``async def`` whichever code sends.

::

    from kettle.signals import receiver, request_finished, model_after_insert

    @receiver(request_finished)
    def log_status(app, request, response):
        print(request.path, response.status_code)

    @receiver(model_after_insert, sender=Post)
    async def announce(sender, instance, connection):
        await notify(f"new post {instance.title}")

Importing this module is what switches the request signals on: an app built
(at its first request or start-up) after the import sends them; an app in a
program that never imports it has no trace of them on its request path.

How a receiver runs depends on where the signal is sent from:

- :meth:`Signal.send` (sync code): ``def`` receivers are called in turn;
  ``async def`` receivers run to completion on the thread's event loop (a WSGI
  worker), on the server's loop (a ``def`` handler under ASGI, in the thread
  pool), or inside an ``AsyncSession``'s flush. Sync code running on the event
  loop's own thread cannot wait for a coroutine without blocking the loop: there
  an ``async def`` receiver is started as a task, and its errors are logged.
- :meth:`Signal.send_async` (async code): ``def`` receivers run in the thread
  pool (all in one hop, so they may block), then ``async def`` receivers are
  awaited in turn.

Either way every connected receiver runs exactly once, in the order connected
(``def`` ones first under :meth:`~Signal.send_async`).
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Callable
from collections.abc import Coroutine
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import MutableSet
from typing import TYPE_CHECKING
from typing import Any
from typing import TypeVar

try:
    import blinker
    from blinker import ANY
except ImportError as exc:  # pragma: no cover - the extra is not installed
    raise ImportError(
        f"kettle.signals needs blinker ({exc}): pip install 'kettle[signals]'"
    ) from exc

from ._pipeline import is_async
from .concurrency import run_in_threadpool
from .concurrency import run_sync
from .errors import logger
from .routing import Mount

if TYPE_CHECKING:
    from .app import Kettle
    from .requests import Request
    from .responses import Response

__all__ = (
    "ANY",
    "NamedSignal",
    "Namespace",
    "Signal",
    "default_namespace",
    "got_request_exception",
    "model_after_delete",
    "model_after_insert",
    "model_after_update",
    "model_before_delete",
    "model_before_insert",
    "model_before_update",
    "receiver",
    "request_finished",
    "request_started",
    "signal",
    "user_logged_in",
    "user_logged_out",
    "user_login_failed",
)

F = TypeVar("F", bound=Callable[..., Any])
Results = list[tuple[Callable[..., Any], Any]]


class _OrderedSet(MutableSet[Any]):
    """A set that iterates in insertion order, so that receivers are called in
    the order they were connected (blinker's default ``set`` has no order)."""

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[Any] = ()) -> None:
        self._items = dict.fromkeys(items)

    def __contains__(self, item: object) -> bool:
        return item in self._items

    def __iter__(self) -> Iterator[Any]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def add(self, item: Any) -> None:
        self._items[item] = None

    def discard(self, item: Any) -> None:
        self._items.pop(item, None)

    def copy(self) -> _OrderedSet:
        return _OrderedSet(self._items)


def _receiver_id(receiver: Callable[..., Any]) -> Any:
    """A key for ``receiver`` that is the same for every bound method object of
    one method of one instance (as blinker keys them)."""
    func = getattr(receiver, "__func__", None)
    if func is not None:
        return (id(func), id(getattr(receiver, "__self__", None)))
    return id(receiver)


_tasks: set[asyncio.Task[Any]] = set()  # started by send(); kept until they end


def _task_done(task: asyncio.Task[Any]) -> None:
    _tasks.discard(task)
    if not task.cancelled() and task.exception() is not None:
        logger().error("async signal receiver failed", exc_info=task.exception())


def _in_sqlalchemy_greenlet() -> bool:
    """Whether this is SQLAlchemy's asyncio bridge (an ``AsyncSession``'s flush),
    where sync code may wait for a coroutine on the loop."""
    concurrency = sys.modules.get("sqlalchemy.util.concurrency")
    return concurrency is not None and bool(concurrency.in_greenlet())


def _run_coroutine(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run an async receiver's coroutine from sync code (see the module's notes)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        # A WSGI worker (the thread's own loop) or the thread pool under ASGI (the
        # server's loop): wait for it.
        return run_sync(coro)
    if _in_sqlalchemy_greenlet():
        from sqlalchemy.util import await_only

        return await_only(coro)
    # NOTE: sync code on the loop's thread: waiting would block the loop for good.
    task = loop.create_task(coro)
    _tasks.add(task)
    task.add_done_callback(_task_done)
    return task


def _call_each(
    receivers: list[Callable[..., Any]], sender: Any, kwargs: dict[str, Any]
) -> Results:
    return [(r, r(sender, **kwargs)) for r in receivers]


class Signal(blinker.Signal):
    """A blinker signal whose receivers may be ``def`` or ``async def``, sent
    from sync or async code alike.

    Connect with :meth:`connect`, :meth:`connect_via`, :meth:`connected_to` (for
    tests) or :func:`receiver`; a receiver is called as
    ``receiver(sender, **kwargs)``. By default a receiver is held by a weak
    reference (a function defined inside another function is disconnected when
    it goes away): pass ``weak=False`` to keep it. Receivers connected for any
    sender are called first, then those for the sender at hand, each group in
    the order connected.

    Args:
        doc: The signal's docstring.
    """

    set_class = _OrderedSet  # type: ignore[assignment]

    def __init__(self, doc: str | None = None) -> None:
        super().__init__(doc)
        # receiver key -> whether it is async, decided once when it connects
        self._async: dict[Any, bool] = {}

    def connect(self, receiver: F, sender: Any = ANY, weak: bool = True) -> F:
        """Call ``receiver(sender, **kwargs)`` whenever the signal is sent by
        ``sender`` (by anyone: :data:`ANY`, the default).

        Args:
            receiver: A function, ``def`` or ``async def``, or a bound method.
            sender: Only this sender's signals (compared by identity).
            weak: Hold the receiver by a weak reference.

        Returns:
            The receiver (so it can be used as a decorator's result).
        """
        self._async[_receiver_id(receiver)] = is_async(receiver)
        return super().connect(receiver, sender, weak)

    def _is_async(self, receiver: Callable[..., Any]) -> bool:
        key = _receiver_id(receiver)
        found = self._async.get(key)
        if found is None:
            found = self._async[key] = is_async(receiver)
        return found

    def send(
        self,
        sender: Any | None = None,
        /,
        *,
        _async_wrapper: Callable[
            [Callable[..., Coroutine[Any, Any, Any]]], Callable[..., Any]
        ]
        | None = None,
        **kwargs: Any,
    ) -> Results:
        """Call every receiver of ``sender`` from sync code.

        An ``async def`` receiver runs to completion before the next one (see
        the module's notes for sync code on the event loop's thread, where it is
        started as a task instead). An exception raised by a receiver propagates
        and the receivers after it are not called.

        Args:
            sender: Who sends it: receivers connected to it and to :data:`ANY`
                are called.
            _async_wrapper: blinker's way of adapting async receivers; when
                given, it is used instead of Kettle's.
            **kwargs: Passed to each receiver.

        Returns:
            ``(receiver, return value)`` pairs; an async receiver started as a
            task gives the task.
        """
        if _async_wrapper is not None:
            return super().send(sender, _async_wrapper=_async_wrapper, **kwargs)
        if self.is_muted or not self.receivers:
            return []
        results: Results = []
        for found in self.receivers_for(sender):
            if self._is_async(found):
                rv = _run_coroutine(found(sender, **kwargs))
            else:
                rv = found(sender, **kwargs)
            results.append((found, rv))
        return results

    async def send_async(
        self,
        sender: Any | None = None,
        /,
        *,
        _sync_wrapper: Callable[
            [Callable[..., Any]], Callable[..., Coroutine[Any, Any, Any]]
        ]
        | None = None,
        **kwargs: Any,
    ) -> Results:
        """Call every receiver of ``sender`` from async code.

        The ``def`` receivers run first, in one trip to the thread pool (so they
        may block without stalling the event loop), then the ``async def``
        receivers are awaited in turn. An exception raised by a receiver
        propagates and the receivers after it are not called.

        Args:
            sender: Who sends it: receivers connected to it and to :data:`ANY`
                are called.
            _sync_wrapper: blinker's way of adapting sync receivers; when
                given, it is used instead of the thread pool.
            **kwargs: Passed to each receiver.

        Returns:
            ``(receiver, return value)`` pairs, in the order called.
        """
        if _sync_wrapper is not None:
            return await super().send_async(
                sender, _sync_wrapper=_sync_wrapper, **kwargs
            )
        if self.is_muted or not self.receivers:
            return []
        sync: list[Callable[..., Any]] = []
        coroutines: list[Callable[..., Any]] = []
        for found in self.receivers_for(sender):
            (coroutines if self._is_async(found) else sync).append(found)
        results: Results = []
        if sync:
            results = await run_in_threadpool(_call_each, sync, sender, kwargs)
        for found in coroutines:
            results.append((found, await found(sender, **kwargs)))
        return results


class NamedSignal(Signal):
    """A :class:`Signal` with a name: the key it has in its :class:`Namespace`.

    Args:
        name: The signal's name.
        doc: The signal's docstring.
    """

    def __init__(self, name: str, doc: str | None = None) -> None:
        super().__init__(doc)
        #: The signal's name.
        self.name = name

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


class Namespace(dict[str, NamedSignal]):
    """Signals by name: a library keeps its own (``signals = Namespace()``) so
    that its names cannot clash with anyone else's."""

    def signal(self, name: str, doc: str | None = None) -> NamedSignal:
        """The signal called ``name``, made on first use: every call with the
        same name gives the same signal.

        Args:
            name: The signal's name.
            doc: Its docstring (used when it is made).
        """
        found = self.get(name)
        if found is None:
            found = self[name] = NamedSignal(name, doc)
        return found


#: The namespace :func:`signal` makes signals in (Kettle's own are elsewhere).
default_namespace = Namespace()


def signal(name: str, doc: str | None = None) -> NamedSignal:
    """The signal called ``name`` in :data:`default_namespace`, made on first use::

        order_paid = signal("order-paid")
        order_paid.send(shop, order=order)

    Args:
        name: The signal's name.
        doc: Its docstring (used when it is made).
    """
    return default_namespace.signal(name, doc)


def receiver(
    signal: Signal | Iterable[Signal], *, sender: Any = ANY, weak: bool = False
) -> Callable[[F], F]:
    """Connect the decorated function to ``signal`` (or to each of several),
    as Django's ``@receiver``::

        @receiver(model_after_insert, sender=Post)
        def on_new_post(sender, instance, **kwargs): ...

    Args:
        signal: A signal, or an iterable of signals.
        sender: Only this sender's signals (default: anyone's).
        weak: Hold the receiver by a weak reference. Off by default, unlike
            :meth:`Signal.connect`: a decorated function stays connected until
            :meth:`~Signal.disconnect` is called, even one defined inside a
            function.
    """
    signals = [signal] if isinstance(signal, blinker.Signal) else list(signal)

    def decorator(func: F) -> F:
        for each in signals:
            each.connect(func, sender, weak)
        return func

    return decorator


# -- the request signals (Flask's) -----------------------------------------------

_kettle = Namespace()

request_started = _kettle.signal(
    "request_started",
    """Sent before a request is handled (before the middleware and routing):
    ``receiver(app, request=request)``. An exception raised by a receiver is
    answered like one raised by the handler (a 500, or the app's error handler's
    answer).""",
)
request_finished = _kettle.signal(
    "request_finished",
    """Sent once a request's response is made (after the ``after_request``
    hooks and the middleware): ``receiver(app, request=request,
    response=response)``. Not sent for a request handed to a mounted app.""",
)
got_request_exception = _kettle.signal(
    "got_request_exception",
    """Sent when a request raised an exception nothing handled, which becomes a
    500 (not for :class:`~kettle.exceptions.HTTPException`):
    ``receiver(app, request=request, exception=exc)``. Sent before
    :data:`request_finished`; an exception raised by a receiver is logged.""",
)


async def _report_async(app: Kettle, request: Request) -> None:
    try:
        await got_request_exception.send_async(
            app, request=request, exception=request.error
        )
    except Exception:
        logger().exception("a got_request_exception receiver failed")


def _report_sync(app: Kettle, request: Request) -> None:
    try:
        got_request_exception.send(app, request=request, exception=request.error)
    except Exception:
        logger().exception("a got_request_exception receiver failed")


def _install_request_signals(app: Kettle) -> None:
    """Make ``app`` send the request signals: its dispatchers are wrapped.

    Called by the app when it is built, if this module has been imported.
    PERF: each wrapper costs a call and a check of each signal's receivers; an
    app built without this module imported has no wrapper at all.
    """
    # NOTE: instance attributes, found before the class's methods.
    app.dispatch_async = _async_dispatcher(app, app.dispatch_async)  # type: ignore[method-assign,assignment]
    app.dispatch_sync = _sync_dispatcher(app, app.dispatch_sync)  # type: ignore[method-assign,assignment]


def _async_dispatcher(
    app: Kettle, inner: Callable[[Request], Coroutine[Any, Any, Response | Mount]]
) -> Callable[[Request], Coroutine[Any, Any, Response | Mount]]:
    started = request_started
    finished = request_finished
    failed = got_request_exception

    async def dispatch_async(request: Request) -> Response | Mount:
        response = None
        if started.receivers:
            try:
                await started.send_async(app, request=request)
            except Exception as exc:  # answered as the handler's would be
                response = app._through_middleware(
                    request, await app.handle_user_error_async(request, exc, None)
                )
        if response is None:
            found = await inner(request)
            if isinstance(found, Mount):
                return found  # the mounted app answers
            response = found
        if request.error is not None and failed.receivers:
            await _report_async(app, request)
        if finished.receivers:
            try:
                await finished.send_async(app, request=request, response=response)
            except Exception as exc:
                # The middleware see the new answer too (its status, their headers).
                response = app._finish(
                    request, await app.handle_user_error_async(request, exc, None)
                )
                if request.error is exc and failed.receivers:
                    await _report_async(app, request)
        return response

    return dispatch_async


def _sync_dispatcher(
    app: Kettle, inner: Callable[[Request], Response | Mount]
) -> Callable[[Request], Response | Mount]:
    started = request_started
    finished = request_finished
    failed = got_request_exception

    def dispatch_sync(request: Request) -> Response | Mount:
        response = None
        if started.receivers:
            try:
                started.send(app, request=request)
            except Exception as exc:  # answered as the handler's would be
                response = app._through_middleware(
                    request, app.handle_user_error_sync(request, exc, None)
                )
        if response is None:
            found = inner(request)
            if isinstance(found, Mount):
                return found  # the mounted app answers
            response = found
        if request.error is not None and failed.receivers:
            _report_sync(app, request)
        if finished.receivers:
            try:
                finished.send(app, request=request, response=response)
            except Exception as exc:
                # The middleware see the new answer too (its status, their headers).
                response = app._finish(
                    request, app.handle_user_error_sync(request, exc, None)
                )
                if request.error is exc and failed.receivers:
                    _report_sync(app, request)
        return response

    return dispatch_sync


# -- the model signals (Django's pre_save, ..., from SQLAlchemy's mapper events) -


class _ModelSignal(NamedSignal):
    """A model signal: the SQLAlchemy listeners that send the model signals are
    installed when a first receiver connects to one of them."""

    def connect(self, receiver: F, sender: Any = ANY, weak: bool = True) -> F:
        _install_model_events()
        return super().connect(receiver, sender, weak)


def _model_signal(event: str, when: str) -> _ModelSignal:
    doc = (
        f"Sent {when} the ORM {event.split('_')[1]}s a row of a "
        ":class:`~kettle.db.Model` (at a flush), as "
        "``receiver(model_class, instance=obj, connection=conn)``, ``conn`` "
        "being the flush's connection (for SQL in the same transaction). Not "
        "sent for bulk ``insert()``, ``update()`` or ``delete()`` statements."
    )
    made = _ModelSignal(f"model_{event}", doc)
    _kettle[made.name] = made
    return made


model_before_insert = _model_signal("before_insert", "before")
model_after_insert = _model_signal("after_insert", "after")
model_before_update = _model_signal("before_update", "before")
model_after_update = _model_signal("after_update", "after")
model_before_delete = _model_signal("before_delete", "before")
model_after_delete = _model_signal("after_delete", "after")

_MODEL_SIGNALS = (
    model_before_insert,
    model_after_insert,
    model_before_update,
    model_after_update,
    model_before_delete,
    model_after_delete,
)
_model_events_lock = threading.Lock()
_model_events: list[Callable[..., None]] = []  # the listeners, once installed


def _model_listener(sent: Signal) -> Callable[[Any, Any, Any], None]:
    def listener(mapper: Any, connection: Any, target: Any) -> None:
        if sent.receivers:  # PERF: nothing more while nobody listens
            sent.send(mapper.class_, instance=target, connection=connection)

    return listener


def _install_model_events() -> None:
    """Listen to SQLAlchemy's mapper events of every :class:`~kettle.db.Model`
    (those defined later too); once per process."""
    if _model_events:
        return
    with _model_events_lock:
        if _model_events:
            return
        try:
            from sqlalchemy import event

            from .db.model import Model
        except ImportError as exc:  # pragma: no cover - the extra is not installed
            raise ImportError(
                f"model signals need Kettle's database battery ({exc}): "
                "pip install 'kettle[db]'"
            ) from exc
        listeners = [_model_listener(each) for each in _MODEL_SIGNALS]
        for each, listener in zip(_MODEL_SIGNALS, listeners, strict=True):
            event.listen(Model, each.name[len("model_") :], listener, propagate=True)
        _model_events.extend(listeners)


# -- the auth signals (Django's), sent by kettle.auth ----------------------------

user_logged_in = _kettle.signal(
    "user_logged_in",
    """Sent when :func:`kettle.auth.login` logs a user in:
    ``receiver(app, user=user, request=request)``.""",
)
user_logged_out = _kettle.signal(
    "user_logged_out",
    """Sent when :func:`kettle.auth.logout` ends a login, before the session is
    emptied: ``receiver(app, user=user, request=request)``; ``user`` is None
    when nobody was logged in.""",
)
user_login_failed = _kettle.signal(
    "user_login_failed",
    """Sent when a login is refused: ``receiver(app, credentials={"username":
    name}, request=request, reason=reason)``, ``reason`` being
    ``"credentials"`` (:func:`kettle.auth.authenticate` found no active user
    with that password), ``"throttled"`` (too many attempts: the password was
    not checked) or ``"second_factor"`` (a wrong code). The password is never
    sent. Outside a request, ``app`` is the current app or None and ``request``
    is None.""",
)
