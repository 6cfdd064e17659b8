"""The admin: a blueprint's models in their own section, children edited inline."""

from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from kettle import Blueprint
from kettle import Kettle
from kettle.admin import Admin
from kettle.admin import AdminSection
from kettle.admin import Inline
from kettle.db import Model

# music.py: the blueprint registers its models, without the app at hand
bp = Blueprint("music", url_prefix="/music")
music_admin = AdminSection(bp)  # "Music" on the dashboard


class Playlist(Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    tracks: Mapped[list["Track"]] = relationship(
        back_populates="playlist", cascade="all, delete-orphan"
    )

    def __str__(self):
        return self.name


class Track(Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    seconds: Mapped[int] = mapped_column(default=0)
    playlist_id: Mapped[int] = mapped_column(ForeignKey("playlist.id"))
    playlist: Mapped[Playlist] = relationship(back_populates="tracks")

    def __str__(self):
        return self.title


class TrackInline(Inline):  # the tracks, a row each, in the playlist's form
    model = Track
    fields = ["title", "seconds"]
    extra = 2  # empty rows for new tracks


music_admin.register(Playlist, search_fields=["name"], inlines=[TrackInline])

# app.py
app = Kettle()
admin = Admin(app)
app.register_blueprint(bp)  # before or after Admin(app): either works
