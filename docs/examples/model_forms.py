"""A form made from a model: create and edit books with one BookForm."""

from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import Session
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from kettle import Kettle
from kettle.db import PK
from kettle.db import Model
from kettle.db import get_or_404
from kettle.forms import initial_from
from kettle.forms import model_form
from kettle.forms import populate

app = Kettle(DATABASE_URL="sqlite://")  # in memory, for the example


class Writer(Model):
    id: Mapped[PK]
    name: Mapped[str] = mapped_column(String(80))

    def __str__(self):
        return self.name  # the label of each writer in the form's <select>


class Novel(Model):
    id: Mapped[PK]
    title: Mapped[str] = mapped_column(String(120))
    pages: Mapped[int | None]
    writer_id: Mapped[int] = mapped_column(ForeignKey("writer.id"))
    writer: Mapped[Writer] = relationship()


NovelForm = model_form(Novel, fields=["title", "pages", "writer"])


@app.post("/novels")
def add_novel(form: NovelForm, db: Session):  # a form body or JSON
    if not form.is_valid():
        return {"errors": form.errors}, 422
    novel = populate(form, Novel())
    db.add(novel)
    db.flush()
    return {"id": novel.id}, 201


@app.get("/novels/{novel_id:int}/edit")
def edit_novel(novel_id: int, db: Session):
    novel = get_or_404(db, Novel, novel_id)
    form = NovelForm(initial=initial_from(novel, NovelForm))
    return f"<form method='post'>{form}</form>"
