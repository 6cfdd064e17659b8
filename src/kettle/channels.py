"""Realtime channels: publish and subscribe on named channels, across every
worker and machine, for WebSocket and server-sent-event (SSE) endpoints.

::

    from kettle.channels import apublish, publish, relay, subscribe

    @app.websocket("/rooms/{room}")
    async def room(ws: WebSocket, room: str, user: User):
        await ws.accept()
        async with subscribe(f"room:{room}") as subscription:
            async for data in relay(ws, subscription):  # messages to the socket
                await apublish(f"room:{room}", {"from": user.username, **data})

    @app.post("/alerts")
    def alert(text: str):
        publish("alerts", {"text": text})   # sync code: a handler, a task

Messages are JSON values (what :func:`json.dumps` takes): anything else is
refused with ``TypeError`` when published, so a message means the same to a
subscriber in this process and in another one.

Backends (``CHANNELS_BACKEND``, made once per app, at start-up):

- ``"memory"`` (the default): the channels of one process. Enough for
  development and for an app served by one worker; with several workers, a
  message reaches only the subscribers of the worker that published it.
- ``"redis"``: Redis pub/sub (``CHANNELS_REDIS_URL``, default ``REDIS_URL``),
  shared by every worker and machine. Each worker holds one pub/sub connection
  per event loop, whatever the number of subscriptions and sockets, and one
  connection pool to publish; a dropped connection is made again, and its
  channels subscribed again, by itself. Redis pub/sub delivers at most once:
  what is published while a worker is disconnected is lost for its
  subscribers, and nothing is kept for subscribers that come later.

Channel names are kept apart per app in Redis by ``CHANNELS_PREFIX`` (Redis
pub/sub ignores the database number; the default prefix includes the number
of the URL's database, so apps on different databases do not hear each other).

Each subscription holds at most ``CHANNELS_QUEUE_SIZE`` messages not yet read:
when a subscriber falls behind, the oldest are dropped (and counted in
:attr:`Subscription.dropped`, with a warning logged), so a slow client never
makes the server's memory grow without bound.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import threading
import urllib.parse
from collections.abc import AsyncIterator
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING
from typing import Any
from typing import NamedTuple

from . import _json
from .exceptions import BadRequest
from .exceptions import ImproperlyConfigured
from .exceptions import WebSocketException

if TYPE_CHECKING:
    from .app import Kettle
    from .responses import ServerSentEvent
    from .websockets import WebSocket

__all__ = (
    "ChannelBackend",
    "InvalidChannelName",
    "MemoryChannels",
    "Message",
    "RedisChannels",
    "Subscription",
    "apublish",
    "events",
    "get_backend",
    "publish",
    "relay",
    "subscribe",
)

log = logging.getLogger("kettle.channels")

#: The key of the app's backend in ``app.extensions``.
EXTENSION = "channels"
#: The longest channel name, in characters.
MAX_CHANNEL_LENGTH = 200
#: Seconds a subscription waits for Redis to confirm it before failing.
SUBSCRIBE_TIMEOUT = 10.0
_BACKENDS = ("memory", "redis")


class Message(NamedTuple):
    """A message received on a channel: the channel's name and the data
    published (a JSON value: ``dict``, ``list``, ``str``, ``int``, ``float``,
    ``bool`` or ``None``; tuples come back as lists). One object may go to
    several subscribers of a process: treat it as read-only."""

    channel: str
    data: Any


# -- names and messages ------------------------------------------------------------


class InvalidChannelName(ValueError, BadRequest):
    """A channel name that is empty, too long or holds a control character.

    A :class:`ValueError`; also a :class:`~kettle.exceptions.BadRequest`, so a
    name built from the URL or a message (``f"room:{name}"``) gets a 400 answer
    (a WebSocket is closed with code 1008), not a 500.
    """

    def __init__(self, message: str) -> None:
        BadRequest.__init__(self, message)

    def __str__(self) -> str:
        return str(self.detail)


def _check_channel(name: object) -> str:
    if not isinstance(name, str):
        raise TypeError(f"a channel name is a str, not {type(name).__name__}")
    if not name or len(name) > MAX_CHANNEL_LENGTH:
        raise InvalidChannelName(
            f"a channel name has 1 to {MAX_CHANNEL_LENGTH} characters, not {len(name)}"
        )
    if not name.isprintable():
        raise InvalidChannelName(
            f"channel name {name[:40]!r} holds a control character or a line break"
        )
    return name


def _channels(names: tuple[object, ...]) -> tuple[str, ...]:
    checked = [_check_channel(n) for n in names]
    return tuple(dict.fromkeys(checked))  # each once, in order


_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _encode_message(message: Any) -> str:
    """``message`` as JSON text.

    Raises:
        TypeError: It is not a JSON value (``NaN`` and infinities included).
    """
    try:
        return _encoder.encode(message)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            "a channel message must be a JSON value (dict, list, str, int, "
            f"float, bool or None): {exc}"
        ) from None


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _not_in_loop(what: str) -> None:
    if _running_loop() is not None:
        raise RuntimeError(
            f"{what}() blocks: from async code, use 'await a{what}(...)' instead"
        )


# -- subscriptions -----------------------------------------------------------------


class Subscription:
    """The messages of one or more channels, for one consumer: an async
    context manager (subscribed inside the block, unsubscribed when it ends)
    and an async iterator of :class:`Message`. Made by :func:`subscribe`.

    Iteration ends when the block is left, or when the app shuts down (after
    the messages already received). Only one task may iterate at a time.

    Attributes:
        channels: The channels' names.
        dropped: Messages dropped because the consumer fell more than
            ``CHANNELS_QUEUE_SIZE`` messages behind (the oldest go first).
    """

    def __init__(self, backend: ChannelBackend, channels: tuple[str, ...]) -> None:
        self.channels = channels
        self.dropped = 0
        self._backend = backend
        self._maxsize = backend.queue_size
        self._queue: collections.deque[Message] = collections.deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._active = False  # subscribed, and not yet left
        self._ended = False  # no more messages will come
        self._hub: Any = None  # the RedisChannels hub it is registered with

    async def __aenter__(self) -> Subscription:
        if self._loop is not None:
            raise RuntimeError("a Subscription is entered once: call subscribe() again")
        self._loop = asyncio.get_running_loop()
        await self._backend._subscribe(self)
        self._active = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Unsubscribe (what ``async with`` does at the end of the block)."""
        if not self._active:
            return
        self._active = False
        self._end()
        self._queue.clear()
        await self._backend._unsubscribe(self)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Message:
        message = await self._next(None)
        if message is None:
            raise StopAsyncIteration
        return message

    async def _next(self, timeout: float | None) -> Message | None:
        """The next message; None when the subscription ended. Raises
        ``TimeoutError`` after ``timeout`` seconds without one."""
        queue = self._queue
        if queue:
            return queue.popleft()
        if self._loop is None:
            raise RuntimeError(
                "enter the subscription first: 'async with subscribe(...) as s'"
            )
        while not queue:
            if self._ended:
                return None
            if self._waiter is not None:
                raise RuntimeError("another task is already reading this subscription")
            waiter = self._waiter = self._loop.create_future()
            try:
                if timeout is None:
                    await waiter
                else:
                    await asyncio.wait_for(waiter, timeout)
            finally:
                self._waiter = None
        return queue.popleft()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _deliver(self, message: Message) -> None:
        """Queue ``message`` (on the subscription's event loop)."""
        if self._ended:
            return
        queue = self._queue
        if len(queue) >= self._maxsize:
            queue.popleft()
            self.dropped += 1
            if self.dropped == 1:
                log.warning(
                    "a subscriber of %s is too slow: dropping its oldest messages "
                    "(it keeps at most CHANNELS_QUEUE_SIZE = %d)",
                    ", ".join(self.channels),
                    self._maxsize,
                )
        queue.append(message)
        self._wake()

    def _deliver_from(
        self, message: Message, here: asyncio.AbstractEventLoop | None
    ) -> None:
        """:meth:`_deliver` from any thread (``here``: the caller's loop)."""
        loop = self._loop
        if loop is None:
            return
        if loop is here:
            self._deliver(message)
            return
        try:
            loop.call_soon_threadsafe(self._deliver, message)
        except RuntimeError:  # its loop is closed: nobody to tell
            pass

    def _end(self) -> None:
        """No more messages: iteration ends once the queue is read."""
        self._ended = True
        self._wake()

    def __repr__(self) -> str:
        state = "active" if self._active else "inactive"
        return f"<Subscription {', '.join(self.channels)} {state}>"


# -- backends ----------------------------------------------------------------------


class ChannelBackend:
    """The base of channel backends: publish from sync and async code,
    register and unregister subscriptions, count local subscribers."""

    def __init__(self, queue_size: int) -> None:
        self.queue_size = queue_size

    def publish(self, channel: str, message: Any) -> None:
        raise NotImplementedError

    async def apublish(self, channel: str, message: Any) -> None:
        raise NotImplementedError

    def subscribers(self, channel: str) -> int:
        """How many subscriptions of this process listen on ``channel``."""
        raise NotImplementedError

    async def _subscribe(self, subscription: Subscription) -> None:
        raise NotImplementedError

    async def _unsubscribe(self, subscription: Subscription) -> None:
        raise NotImplementedError

    async def aclose(self) -> None:
        """End every subscription and release connections (at shutdown)."""


class MemoryChannels(ChannelBackend):
    """Channels in this process's memory (thread safe): a message reaches the
    subscribers of this process only."""

    def __init__(self, queue_size: int = 100) -> None:
        super().__init__(queue_size)
        self._lock = threading.Lock()
        self._subs: dict[str, set[Subscription]] = {}

    def publish(self, channel: str, message: Any) -> None:
        """Send ``message`` to the channel's subscribers (from sync code)."""
        _not_in_loop("publish")
        self._fan_out(_check_channel(channel), _encode_message(message))

    async def apublish(self, channel: str, message: Any) -> None:
        """Send ``message`` to the channel's subscribers (from async code)."""
        self._fan_out(_check_channel(channel), _encode_message(message))

    def _fan_out(self, channel: str, payload: str) -> None:
        with self._lock:
            targets = tuple(self._subs.get(channel, ()))
        if not targets:
            return
        # decoded again, as a subscriber in another process would see it
        message = Message(channel, _json.loads(payload))
        here = _running_loop()
        for subscription in targets:
            subscription._deliver_from(message, here)

    def subscribers(self, channel: str) -> int:
        with self._lock:
            return len(self._subs.get(channel, ()))

    async def _subscribe(self, subscription: Subscription) -> None:
        with self._lock:
            for channel in subscription.channels:
                self._subs.setdefault(channel, set()).add(subscription)

    async def _unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            for channel in subscription.channels:
                group = self._subs.get(channel)
                if group is not None:
                    group.discard(subscription)
                    if not group:
                        del self._subs[channel]

    async def aclose(self) -> None:
        with self._lock:
            every = {s for group in self._subs.values() for s in group}
            self._subs.clear()
        here = _running_loop()
        for subscription in every:
            loop = subscription._loop
            if loop is here:
                subscription._end()
            elif loop is not None:
                try:
                    loop.call_soon_threadsafe(subscription._end)
                except RuntimeError:
                    pass


def _default_prefix(url: str) -> str:
    """``kettle:<db>:`` for the URL's database number (pub/sub ignores it)."""
    parts = urllib.parse.urlsplit(url)
    db = parts.path.strip("/") or "0"
    query = urllib.parse.parse_qs(parts.query)
    if "db" in query:
        db = query["db"][0]
    return f"kettle:{db}:"


class RedisChannels(ChannelBackend):
    """Channels over Redis pub/sub, shared by every process using the same
    Redis and ``prefix``. Needs ``pip install 'kettle[redis]'``.

    Args:
        url: The Redis URL.
        prefix: Put before each channel name in Redis.
        queue_size: The most messages a subscription holds unread.
    """

    def __init__(
        self, url: str, prefix: str | None = None, queue_size: int = 100
    ) -> None:
        super().__init__(queue_size)
        from ._redis import require_redis

        require_redis("CHANNELS_BACKEND = 'redis'")
        import redis

        self.url = url
        self.prefix = _default_prefix(url) if prefix is None else prefix
        self._options: dict[str, Any] = {
            "socket_connect_timeout": 5,
            "socket_timeout": 10,
        }
        self._sync = redis.Redis.from_url(url, **self._options)
        self._hubs: dict[asyncio.AbstractEventLoop, _Hub] = {}
        self._hubs_lock = threading.Lock()

    def key(self, channel: str) -> bytes:
        """The name of ``channel`` in Redis."""
        return (self.prefix + channel).encode()

    def publish(self, channel: str, message: Any) -> None:
        """Publish ``message`` (from sync code: a ``def`` handler, a task).

        Raises:
            redis.ConnectionError: Redis cannot be reached.
        """
        _not_in_loop("publish")
        self._sync.publish(self.key(_check_channel(channel)), _encode_message(message))

    async def apublish(self, channel: str, message: Any) -> None:
        """Publish ``message`` (from async code).

        Raises:
            redis.ConnectionError: Redis cannot be reached.
        """
        payload = _encode_message(message)
        await self._hub().client.publish(self.key(_check_channel(channel)), payload)

    def subscribers(self, channel: str) -> int:
        key = self.key(channel)
        with self._hubs_lock:
            hubs = list(self._hubs.values())
        return sum(len(hub.subs.get(key, ())) for hub in hubs)

    def _hub(self) -> _Hub:
        """The pub/sub hub of the running event loop (made on first use)."""
        loop = asyncio.get_running_loop()
        hub = self._hubs.get(loop)
        if hub is None:
            with self._hubs_lock:
                for old in [lp for lp in self._hubs if lp.is_closed()]:
                    del self._hubs[old]
                hub = self._hubs.get(loop)
                if hub is None:
                    hub = self._hubs[loop] = _Hub(self, loop)
        return hub

    async def _subscribe(self, subscription: Subscription) -> None:
        hub = self._hub()
        subscription._hub = hub
        await hub.add(subscription)

    async def _unsubscribe(self, subscription: Subscription) -> None:
        hub = subscription._hub
        if hub is not None:
            await hub.remove(subscription)

    async def aclose(self) -> None:
        loop = asyncio.get_running_loop()
        with self._hubs_lock:
            hub = self._hubs.pop(loop, None)
        if hub is not None:
            await hub.aclose()
        self._sync.close()


class _Hub:
    """One event loop's share of a :class:`RedisChannels`: a client to publish
    with, and one pub/sub connection, read by one task, carrying every
    subscription of the loop."""

    def __init__(self, backend: RedisChannels, loop: asyncio.AbstractEventLoop) -> None:
        import redis.asyncio

        self.backend = backend
        self.loop = loop
        self.client = redis.asyncio.Redis.from_url(backend.url, **backend._options)
        self.pubsub: Any = None
        self.reader: asyncio.Task[None] | None = None
        #: Local subscriptions by Redis channel name.
        self.subs: dict[bytes, set[Subscription]] = {}
        #: Futures waiting for Redis to confirm a SUBSCRIBE, in the order sent.
        self.pending: dict[bytes, collections.deque[asyncio.Future[None]]] = {}
        self.closed = False
        self._retries: set[asyncio.Task[None]] = set()  # referenced till done

    async def add(self, subscription: Subscription) -> None:
        if self.closed:
            raise RuntimeError("the app's channels are closed (it shut down)")
        waits: list[asyncio.Future[None]] = []
        mine: list[tuple[bytes, asyncio.Future[None]]] = []
        new: list[bytes] = []
        for channel in subscription.channels:
            key = self.backend.key(channel)
            group = self.subs.setdefault(key, set())
            if not group:
                new.append(key)
            else:
                queued = self.pending.get(key)
                if queued:  # subscribed by another, not yet confirmed
                    waits.append(queued[-1])
            group.add(subscription)
        try:
            if new:
                if self.pubsub is None:
                    self.pubsub = self.client.pubsub()
                for key in new:
                    future = self.loop.create_future()
                    self.pending.setdefault(key, collections.deque()).append(future)
                    waits.append(future)
                    mine.append((key, future))
                await self.pubsub.subscribe(*new)
                if self.reader is None or self.reader.done():
                    self.reader = self.loop.create_task(self._read())
            if waits:
                await asyncio.wait_for(
                    asyncio.shield(asyncio.gather(*waits)), SUBSCRIBE_TIMEOUT
                )
        except BaseException:
            self._abandon(mine, subscription)
            await self.remove(subscription)
            raise

    def _abandon(
        self, mine: list[tuple[bytes, asyncio.Future[None]]], subscription: Subscription
    ) -> None:
        """Forget the confirmations a failed subscribe waited for; those that
        others joined meanwhile are asked for again, for them."""
        handed_over: list[bytes] = []
        for key, future in mine:
            if self.subs.get(key, set()) - {subscription}:
                # Others wait on this future: the SUBSCRIBE (maybe never
                # sent) is sent again for them.
                handed_over.append(key)
                continue
            queued = self.pending.get(key)
            if queued is not None and future in queued:
                queued.remove(future)
                if not queued:
                    del self.pending[key]
            future.cancel()
        if handed_over and self.pubsub is not None:
            task = self.loop.create_task(self._subscribe_again(handed_over))
            self._retries.add(task)
            task.add_done_callback(self._retries.discard)

    async def _subscribe_again(self, keys: list[bytes]) -> None:
        """SUBSCRIBE again (Redis confirms each time), for subscribers that
        waited on one whose own subscribing was cut short."""
        try:
            if self.pubsub is not None and not self.closed:
                await self.pubsub.subscribe(*keys)
                if self.reader is None or self.reader.done():
                    self.reader = self.loop.create_task(self._read())
        except Exception as exc:  # reconnecting resubscribes them anyway
            log.debug("subscribing again to %s failed: %s", keys, exc)

    async def remove(self, subscription: Subscription) -> None:
        gone: list[bytes] = []
        for channel in subscription.channels:
            key = self.backend.key(channel)
            group = self.subs.get(key)
            if group is None or subscription not in group:
                continue
            group.discard(subscription)
            if not group:
                del self.subs[key]
                gone.append(key)
        if not gone or self.pubsub is None or self.closed:
            return
        try:
            await self.pubsub.unsubscribe(*gone)
        except Exception as exc:  # the connection is down: not resubscribed
            log.debug("unsubscribing from %s failed: %s", gone, exc)
            for key in gone:
                if key not in self.subs:
                    self.pubsub.channels.pop(key, None)

    async def _read(self) -> None:
        """Hand each message to the local subscribers of its channel; on a lost
        connection, wait and read again (redis-py connects again and
        subscribes to every channel again)."""
        delay = 0.1
        while True:  # until cancelled, by aclose()
            try:
                found = await self.pubsub.get_message(timeout=None)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "the Redis pub/sub connection of kettle.channels is lost (%s): "
                    "connecting again in %.1f s; messages published meanwhile "
                    "are lost",
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            delay = 0.1
            if found is None:
                continue
            kind = found["type"]
            if kind == b"message" or kind == "message":
                self._dispatch(found["channel"], found["data"])
            elif kind == b"subscribe" or kind == "subscribe":
                queued = self.pending.get(found["channel"])
                if queued:
                    future = queued.popleft()
                    if not queued:
                        del self.pending[found["channel"]]
                    if not future.done():
                        future.set_result(None)

    def _dispatch(self, key: bytes, payload: bytes) -> None:
        group = self.subs.get(key)
        if not group:
            return
        try:
            data = _json.loads(payload)
        except ValueError:
            log.warning("ignored a message on %r that is not JSON", key)
            return
        message = Message(key[len(self.backend.prefix.encode()) :].decode(), data)
        for subscription in tuple(group):
            subscription._deliver(message)

    async def aclose(self) -> None:
        self.closed = True
        for group in self.subs.values():
            for subscription in group:
                subscription._end()
        self.subs.clear()
        for queued in self.pending.values():
            for future in queued:
                if not future.done():
                    future.cancel()
        self.pending.clear()
        if self.reader is not None:
            self.reader.cancel()
            await asyncio.gather(self.reader, return_exceptions=True)
        if self.pubsub is not None:
            await self.pubsub.aclose()
        await self.client.aclose()


# -- the app's backend -------------------------------------------------------------


def get_backend(app: Kettle | None = None) -> ChannelBackend:
    """The app's channel backend (``app.extensions["channels"]``), made from
    the settings on first use (at start-up for ``"redis"``): ``CHANNELS_BACKEND``,
    ``CHANNELS_REDIS_URL`` (default ``REDIS_URL``), ``CHANNELS_PREFIX``,
    ``CHANNELS_QUEUE_SIZE``. ``app`` None: the current app.

    Raises:
        ImproperlyConfigured: A setting is wrong (the message names it).
        RuntimeError: No app is given and none is current.
    """
    from .helpers import extension

    if app is None:
        from .context import _current_app

        try:
            app = _current_app()
        except LookupError:
            raise RuntimeError(
                "kettle.channels needs an app: call it while a request or a "
                "WebSocket is handled, inside 'with app.app_context()', or "
                "pass app=..."
            ) from None
    return extension(app, EXTENSION, _make_backend)


def _make_backend(app: Kettle) -> ChannelBackend:
    cfg = app.config
    name = cfg.get("CHANNELS_BACKEND") or "memory"
    if name not in _BACKENDS:
        raise ImproperlyConfigured(
            f"CHANNELS_BACKEND {name!r} is not one Kettle knows: use "
            + " or ".join(repr(b) for b in _BACKENDS)
        )
    size = cfg.get_int("CHANNELS_QUEUE_SIZE")
    if size < 1:
        raise ImproperlyConfigured(
            f"CHANNELS_QUEUE_SIZE must be at least 1 (messages a subscriber may "
            f"fall behind), not {size}"
        )
    backend: ChannelBackend
    if name == "memory":
        backend = MemoryChannels(size)
    else:
        url = cfg.get("CHANNELS_REDIS_URL") or cfg.get("REDIS_URL")
        if not url:
            raise ImproperlyConfigured(
                "CHANNELS_BACKEND = 'redis' needs CHANNELS_REDIS_URL (or "
                "REDIS_URL), such as 'redis://127.0.0.1:6379/0'"
            )
        prefix = cfg.get("CHANNELS_PREFIX")
        if prefix is not None and not isinstance(prefix, str):
            raise ImproperlyConfigured(
                f"CHANNELS_PREFIX must be a str (such as 'myapp:'), not {prefix!r}"
            )
        backend = RedisChannels(str(url), prefix, size)
    app.on_shutdown(backend.aclose)
    return backend


# -- the API -----------------------------------------------------------------------


def publish(channel: str, message: Any, *, app: Kettle | None = None) -> None:
    """Send ``message`` (a JSON value) to every subscriber of ``channel``, in
    every worker (with the Redis backend). From sync code: a ``def`` handler, a
    task, a script (in ``app.app_context()``, or with ``app=``).

    Raises:
        TypeError: ``message`` is not a JSON value, or ``channel`` not a str.
        InvalidChannelName: ``channel`` is empty, too long or holds control
            characters (a ValueError, answered with 400 in a request).
        RuntimeError: Called from async code (use :func:`apublish`).
    """
    get_backend(app).publish(channel, message)


async def apublish(channel: str, message: Any, *, app: Kettle | None = None) -> None:
    """:func:`publish` from async code."""
    await get_backend(app).apublish(channel, message)


def subscribe(channel: str, *more: str, app: Kettle | None = None) -> Subscription:
    """A subscription to ``channel`` (and ``more`` channels), to use as
    ``async with subscribe("news") as subscription: async for message in
    subscription: ...`` (each a :class:`Message`). Messages published after
    the ``async with`` line has run are received; none from before.

    Raises:
        TypeError: A channel name is not a str.
        InvalidChannelName: A channel name is not a valid one (a ValueError,
            answered with 400 in a request).
    """
    return Subscription(get_backend(app), _channels((channel, *more)))


async def relay(
    websocket: WebSocket,
    subscription: Subscription,
    *,
    outgoing: Callable[[Message], Any] | None = None,
    json: bool = True,
) -> AsyncIterator[Any]:
    """Send the subscription's messages to the (accepted) WebSocket as they
    come, while yielding what the client sends; ends when the client
    disconnects (or the subscription ends).

    Args:
        websocket: The accepted WebSocket.
        subscription: An entered subscription.
        outgoing: What to send for a message (a JSON value), None to send
            nothing; by default the message's data.
        json: Decode the client's messages as JSON (invalid JSON closes the
            socket with code 1007); False yields them as ``str`` or ``bytes``.
    """
    from .websockets import WebSocketState

    if websocket.client_state is not WebSocketState.CONNECTED:
        raise RuntimeError("relay() needs an accepted WebSocket: await ws.accept()")

    async def forward() -> None:
        async for message in subscription:
            value = message.data if outgoing is None else outgoing(message)
            if value is None and outgoing is not None:
                continue
            await websocket.send_json(value)

    sender = asyncio.ensure_future(forward())
    try:
        while True:
            receiving = asyncio.ensure_future(websocket.receive())
            try:
                await asyncio.wait(
                    (receiving, sender), return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                if not receiving.done():
                    receiving.cancel()
                    await asyncio.gather(receiving, return_exceptions=True)
            if receiving.cancelled() or not receiving.done():
                sender.result()  # its error, if it failed
                return
            incoming = receiving.result()
            if incoming["type"] == "websocket.disconnect":
                return
            text = incoming.get("text")
            payload = text if text is not None else bytes(incoming.get("bytes") or b"")
            if not json:
                yield payload
                continue
            try:
                decoded = _json.loads(payload)
            except ValueError:
                raise WebSocketException(1007, "messages must be JSON") from None
            yield decoded
    finally:
        if not sender.done():
            sender.cancel()
        await asyncio.gather(sender, return_exceptions=True)


def events(
    channel: str,
    *more: str,
    heartbeat: float | None = 15.0,
    named: bool = False,
    app: Kettle | None = None,
) -> AsyncIterator[ServerSentEvent]:
    """The messages of the channels as server-sent events, for
    ``EventSourceResponse(events("news"))``: each message's data (JSON, or a
    string as it is), and a comment every ``heartbeat`` seconds of silence so
    proxies keep the connection open. Subscribed when the response starts;
    unsubscribed when the client goes away.

    Args:
        channel: A channel's name; ``more``: other channels.
        heartbeat: Seconds between keep-alive comments (None: none).

    Raises:
        ValueError: ``heartbeat`` is not a positive number or None.
        InvalidChannelName: A channel name is not a valid one.
        named: Name each event after its channel (``event: <channel>``; the
            browser listens with ``source.addEventListener(channel, ...)``).
        app: The app (default: the current one).
    """
    if heartbeat is not None and not 0 < heartbeat < float("inf"):
        raise ValueError(
            f"heartbeat must be a positive number of seconds or None, not {heartbeat!r}"
        )
    subscription = subscribe(channel, *more, app=app)
    return _events(subscription, heartbeat, named)


async def _events(
    subscription: Subscription, heartbeat: float | None, named: bool
) -> AsyncIterator[ServerSentEvent]:
    from .responses import ServerSentEvent

    async with subscription:
        while True:
            try:
                message = await subscription._next(heartbeat)
            except TimeoutError:
                yield ServerSentEvent(comment="keep-alive")
                continue
            if message is None:
                return
            yield ServerSentEvent(
                data=message.data, event=message.channel if named else None
            )
