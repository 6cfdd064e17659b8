"""The models: each class is a table. After changing one, write a migration
with ``kettle db makemigrations -m "what changed"`` and apply it with
``kettle db migrate``."""

from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from kettle.auth import User
from kettle.db import PK
from kettle.db import Model
from kettle.db import Timestamps


class Post(Timestamps, Model):
    """A blog post: the table ``post``, with ``created_at`` and ``updated_at``."""

    id: Mapped[PK]
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    # Posts written before there were users have no author (NULL).
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("auth_user.id", ondelete="SET NULL"), index=True
    )
    author: Mapped[User | None] = relationship()

    def __str__(self) -> str:
        return self.title
