"""Kettle's database battery: SQLAlchemy 2 models, sessions per request, the
everyday queries, and (through ``kettle db``) Alembic migrations.

Install it with ``pip install 'kettle[db]'`` (add ``kettle[postgresql]`` or
``kettle[mysql]`` for those servers)::

    from kettle import Kettle
    from kettle.db import Model, PK, Mapped, mapped_column, get_or_404
    from sqlalchemy.orm import Session

    app = Kettle(DATABASE_URL="sqlite:///blog.db")

    class Post(Model):
        id: Mapped[PK]
        title: Mapped[str] = mapped_column(String(200))

    @app.get("/posts/{id:int}")
    def show(id: int, db: Session):
        return {"title": get_or_404(db, Post, id).title}
"""

from __future__ import annotations

from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import select
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from .database import Database
from .database import KettleSession
from .database import NPlusOneError
from .database import ReadOnlySessionError
from .database import get_database
from .engine import QueryBudgetExceeded
from .engine import QueryStats
from .engine import driver_urls
from .model import NAMING_CONVENTION
from .model import PK
from .model import Model
from .model import Timestamps
from .queries import KeysetPage
from .queries import Page
from .queries import bulk_insert
from .queries import bulk_update
from .queries import first_or_404
from .queries import get_or_404
from .queries import keyset
from .queries import paginate
from .queries import transaction
from .web import query_budget
from .web import query_stats
from .web import replica

__all__ = (
    "NAMING_CONVENTION",
    "PK",
    "Database",
    "ForeignKey",
    "KettleSession",
    "KeysetPage",
    "Mapped",
    "Model",
    "NPlusOneError",
    "Page",
    "QueryBudgetExceeded",
    "QueryStats",
    "ReadOnlySessionError",
    "String",
    "Text",
    "Timestamps",
    "bulk_insert",
    "bulk_update",
    "driver_urls",
    "first_or_404",
    "get_database",
    "get_or_404",
    "keyset",
    "mapped_column",
    "paginate",
    "query_budget",
    "query_stats",
    "relationship",
    "replica",
    "select",
    "transaction",
)
