"""The TechEmpower tables as Kettle models (the fortunes template is
``templates/fortunes.html``, rendered by ``kettle.templating``).

``world`` and ``fortune`` are the tables of ``../shared/bench/tfb-postgres.sql``
(``Model`` names a table after its class in snake case: ``World`` is ``world``).
"""

from typing import NamedTuple

from sqlalchemy import String

from kettle.db import PK
from kettle.db import Mapped
from kettle.db import Model
from kettle.db import mapped_column


class World(Model):
    id: Mapped[PK]
    randomnumber: Mapped[int]


class Fortune(Model):
    id: Mapped[PK]
    message: Mapped[str] = mapped_column(String(2048))


class FortuneRow(NamedTuple):
    """The fortune a request adds, alongside the rows of
    ``select(Fortune.id, Fortune.message)`` (read as ``row.id``, ``row.message``)."""

    id: int
    message: str
