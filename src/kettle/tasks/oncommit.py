"""Enqueue on commit: a job enqueued while a database session of the same context
(the request's, or a task's) has a transaction open is sent when that transaction
commits, and dropped when it rolls back, so that a worker never looks for a row
that is not there yet, nor runs for a change that was undone.

Sessions are seen through SQLAlchemy's session events (listened to once, when
SQLAlchemy is loaded and the first task is declared): each request (or, outside
requests, each context: a task run, a thread) notes the sessions whose
transactions began in it. A session counts as
holding a transaction when it has changes to flush, or a transaction open on a
connection (a write, or :func:`kettle.db.transaction`): a request that only read
runs in autocommit and has nothing to wait for.
"""

from __future__ import annotations

import logging
import sys
import threading
import weakref
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from ..context import request_var

__all__ = ("defer", "install", "open_session")

log = logging.getLogger("kettle.tasks")

_KEY = "kettle_tasks_on_commit"
_ATTR = "_kettle_tasks_sessions"
_sessions: ContextVar[tuple[weakref.ref[Any], ...]] = ContextVar(
    "kettle.tasks.sessions", default=()
)
_installed = False
_lock = threading.Lock()


def install() -> bool:
    """Listen to session events, once SQLAlchemy's ORM is loaded (a no-op
    before: no session can exist). Returns whether it listens."""
    global _installed
    if _installed:
        return True
    if "sqlalchemy.orm" not in sys.modules:
        return False
    with _lock:
        if not _installed:
            from sqlalchemy import event
            from sqlalchemy.orm import Session

            event.listen(Session, "after_transaction_create", _began)
            event.listen(Session, "after_commit", _committed)
            event.listen(Session, "after_transaction_end", _ended)
            _installed = True
    return True


def _began(session: Any, transaction: Any) -> None:
    if transaction.parent is not None:
        return  # a savepoint: jobs wait for the outermost transaction
    request = request_var.get(None)
    if request is not None:
        # A request's session and handler may run in different threads (each
        # with its own copy of the context), but they share the request.
        noted: list[weakref.ref[Any]] | None = getattr(request, _ATTR, None)
        if noted is None:
            noted = []
            setattr(request, _ATTR, noted)
        noted.append(weakref.ref(session))
        return
    kept = tuple(
        ref
        for ref in _sessions.get()
        if (s := ref()) is not None and s is not session and s.in_transaction()
    )
    _sessions.set((*kept, weakref.ref(session)))


def _committed(session: Any) -> None:
    pending: list[Callable[[], None]] | None = session.info.pop(_KEY, None)
    for send in pending or ():
        try:
            send()
        except Exception:
            # The data is committed: failing the commit now would not undo it.
            log.exception(
                "a job enqueued in a transaction could not be sent after its commit"
            )


def _ended(session: Any, transaction: Any) -> None:
    if transaction.parent is None:
        dropped = session.info.pop(_KEY, None)
        if dropped:
            log.debug(
                "%d job(s) dropped: their transaction was rolled back", len(dropped)
            )


def open_session() -> Any:
    """The session of this context (or request) whose open transaction jobs wait
    for, or None."""
    if not install():
        return None
    request = request_var.get(None)
    refs: list[weakref.ref[Any]] = list(_sessions.get())
    if request is not None:
        refs += getattr(request, _ATTR, None) or ()
    from ..db.engine import needs_commit

    for ref in reversed(refs):
        session = ref()
        if session is not None and needs_commit(session):
            return session
    return None


def defer(send: Callable[[], None]) -> bool:
    """Call ``send()`` when this context's open transaction commits (never if it
    rolls back). Returns False, without calling it, when no transaction is open:
    the caller sends at once."""
    session = open_session()
    if session is None:
        return False
    session.info.setdefault(_KEY, []).append(send)
    return True
