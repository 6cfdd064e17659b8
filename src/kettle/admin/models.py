"""The admin's audit log: who changed what, and when (``admin_log_entry``)."""

from __future__ import annotations

import datetime

from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from ..db.model import Model

__all__ = ("LogEntry",)

ADD, CHANGE, DELETE = "add", "change", "delete"


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class LogEntry(Model):
    """One change made through the admin."""

    __tablename__ = "admin_log_entry"
    __repr_attrs__ = ("action", "model", "object_id")

    id: Mapped[int] = mapped_column(primary_key=True)
    action_time: Mapped[datetime.datetime] = mapped_column(
        DateTime(timezone=True), default=_now, index=True
    )
    #: Who (None once that user is deleted).
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("auth_user.id", ondelete="SET NULL"), index=True
    )
    #: The model's name in the admin (its table).
    model: Mapped[str] = mapped_column(String(100), index=True)
    object_id: Mapped[str] = mapped_column(String(100))
    object_repr: Mapped[str] = mapped_column(String(200))
    #: ``"add"``, ``"change"`` or ``"delete"``.
    action: Mapped[str] = mapped_column(String(10))
    #: What changed, in words ("Changed title, body.").
    message: Mapped[str] = mapped_column(Text, default="")
