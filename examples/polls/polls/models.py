"""The models of Django's tutorial, part 2: ``Question`` and ``Choice``.

Times are UTC without a zone (``pub_date``), the one form that SQLite, PostgreSQL
and MariaDB all keep as it was written; :func:`now` gives the current one.
"""

from __future__ import annotations

import datetime

from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from kettle.admin import display
from kettle.db import PK
from kettle.db import Model


def now() -> datetime.datetime:
    """The current time, UTC, without a zone (as ``pub_date`` is stored)."""
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


def utc(moment: datetime.datetime) -> datetime.datetime:
    """``moment`` as ``pub_date`` keeps it: converted to UTC, zone dropped."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.UTC).replace(tzinfo=None)
    return moment


class Question(Model):
    id: Mapped[PK]
    question_text: Mapped[str] = mapped_column(String(200))
    pub_date: Mapped[datetime.datetime] = mapped_column(DateTime, index=True)
    choices: Mapped[list[Choice]] = relationship(
        back_populates="question",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Choice.id",
    )

    __repr_attrs__ = ("question_text",)

    def __str__(self) -> str:
        return self.question_text

    @display(boolean=True, ordering="pub_date", description="Published recently?")
    def was_published_recently(self) -> bool:
        """Published within the last day, and not in the future."""
        current = now()
        return current - datetime.timedelta(days=1) <= utc(self.pub_date) <= current


class Choice(Model):
    id: Mapped[PK]
    question_id: Mapped[int] = mapped_column(
        ForeignKey("question.id", ondelete="CASCADE"), index=True
    )
    choice_text: Mapped[str] = mapped_column(String(200))
    votes: Mapped[int] = mapped_column(Integer, default=0)
    question: Mapped[Question] = relationship(back_populates="choices")

    __repr_attrs__ = ("choice_text", "votes")

    def __str__(self) -> str:
        return self.choice_text
