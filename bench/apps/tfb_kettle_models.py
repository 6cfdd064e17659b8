"""The TechEmpower tables as Kettle models, and the fortunes template (Jinja2).

``world`` and ``fortune`` are the tables of ``../shared/bench/tfb-postgres.sql``
(``Model`` names a table after its class in snake case: ``World`` is ``world``).
"""

from pathlib import Path
from typing import NamedTuple

from jinja2 import Environment
from jinja2 import FileSystemLoader
from jinja2 import select_autoescape
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


# Kettle has no template battery yet: Jinja2 directly, escaping .html templates.
templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(),
)
fortunes_html = templates.get_template("fortunes.html")
