"""Flask-SQLAlchemy code, in Kettle: the Flask-SQLAlchemy original of each line
is in its comment. There is no ``db`` object to make: kettle.db reads
``DATABASE_URL``, and a handler asks for a session."""

from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import Session
from sqlalchemy.orm import mapped_column

from kettle import Kettle
from kettle.db import PK
from kettle.db import Model
from kettle.db import first_or_404
from kettle.db import get_or_404
from kettle.db import paginate

# app.config["SQLALCHEMY_DATABASE_URI"] = ...; db = SQLAlchemy(app)
app = Kettle(DATABASE_URL="sqlite://")  # in memory, for the example


class Entry(Model):  # class Entry(db.Model)
    id: Mapped[PK]  # id = db.Column(db.Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text, default="")
    published: Mapped[bool] = mapped_column(default=False)


@app.post("/entries", status_code=201)
def add_entry(slug: str, title: str, db: Session):  # db.session
    entry = Entry(slug=slug, title=title)
    db.add(entry)  # db.session.add(entry)
    db.flush()  # the INSERT now, for entry.id
    return {"id": entry.id}  # db.session.commit(): Kettle commits on return


@app.get("/entries")
def list_entries(db: Session, page: int = 1):
    query = select(Entry).order_by(Entry.id)  # db.select(Entry).order_by(Entry.id)
    found = paginate(db, query, page, per_page=2)  # db.paginate(query, page=page, ...)
    return {"titles": [entry.title for entry in found], "pages": found.pages}


@app.get("/entries/{entry_id:int}")
def show_entry(entry_id: int, db: Session):
    entry = get_or_404(db, Entry, entry_id)  # db.get_or_404(Entry, entry_id)
    return {"title": entry.title}


@app.get("/by-slug/{slug}")
def by_slug(slug: str, db: Session):
    # db.first_or_404(db.select(Entry).filter_by(slug=slug))
    entry = first_or_404(db, select(Entry).filter_by(slug=slug))
    return {"id": entry.id}


@app.post("/entries/{entry_id:int}/publish")
def publish(entry_id: int, db: Session):
    get_or_404(db, Entry, entry_id).published = True  # committed on return
    # db.session.scalar(db.select(db.func.count()).select_from(Entry).where(...))
    count = db.scalar(select(func.count()).select_from(Entry).where(Entry.published))
    return {"published": count}
