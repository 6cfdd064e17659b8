"""Computed columns in the admin's list: a model method and a ModelAdmin method."""

import datetime

from sqlalchemy import DateTime
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from kettle import Kettle
from kettle.admin import Admin
from kettle.admin import ModelAdmin
from kettle.admin import display
from kettle.db import PK
from kettle.db import Model


class Poll(Model):
    id: Mapped[PK]
    question: Mapped[str] = mapped_column(String(200))
    opens: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True))

    @display(boolean=True, ordering="opens", description="Open?")
    def is_open(self) -> bool:
        opens = self.opens.replace(tzinfo=self.opens.tzinfo or datetime.UTC)
        return opens <= datetime.datetime.now(datetime.UTC)


class PollAdmin(ModelAdmin):
    list_display = ["question", "is_open", "question_length"]

    def question_length(self, poll: Poll) -> int:  # called with the row
        return len(poll.question)


app = Kettle()  # SECRET_KEY and DATABASE_URL from the environment
Admin(app).register(Poll, PollAdmin)
