"""The admin: one line to start, options per model."""

from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from kettle import Kettle
from kettle.admin import Admin
from kettle.admin import ModelAdmin
from kettle.admin import action
from kettle.db import Model

app = Kettle()  # SECRET_KEY and DATABASE_URL from the settings or environment
admin = Admin(app)  # /admin, for staff users (kettle.auth logs them in)


class Rack(Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))

    def __str__(self):
        return self.name


class Volume(Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    lent: Mapped[bool] = mapped_column(default=False)
    rack_id: Mapped[int] = mapped_column(ForeignKey("rack.id"))
    rack: Mapped[Rack] = relationship()

    def __str__(self):
        return self.title


@action("Mark as returned")
def returned(db, volumes):  # runs on the selected rows
    for volume in volumes:
        volume.lent = False
    return f"{len(volumes)} volume(s) returned."


class VolumeAdmin(ModelAdmin):
    list_display = ["title", "rack", "lent"]
    search_fields = ["title"]
    list_filter = ["lent", "rack"]
    ordering = ["title"]
    actions = [returned]


admin.register(Rack, search_fields=["name"])
admin.register(Volume, VolumeAdmin)
