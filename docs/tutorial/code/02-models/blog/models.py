"""The models: each class is a table. After changing one, write a migration
with ``kettle db makemigrations -m "what changed"`` and apply it with
``kettle db migrate``."""

from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from kettle.db import PK
from kettle.db import Model
from kettle.db import Timestamps


class Post(Timestamps, Model):
    """A blog post: the table ``post``, with ``created_at`` and ``updated_at``."""

    id: Mapped[PK]
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")

    def __str__(self) -> str:
        return self.title
