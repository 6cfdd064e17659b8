"""A small library API on kettle.db: models, a session per request, the everyday
queries. Run it: ``kettle run database_app:app`` (an SQLite file beside it)."""

from __future__ import annotations

from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import Session
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship
from sqlalchemy.orm import selectinload

from kettle import Kettle
from kettle.db import PK
from kettle.db import Model
from kettle.db import Timestamps
from kettle.db import get_database
from kettle.db import get_or_404
from kettle.db import keyset
from kettle.db import paginate


class Shelf(Model):
    id: Mapped[PK]
    name: Mapped[str] = mapped_column(String(100), unique=True)
    books: Mapped[list[Book]] = relationship(back_populates="shelf")


class Book(Model, Timestamps):  # created_at and updated_at
    __repr_attrs__ = ("title",)  # repr(book) == "<Book id=1 title='Dune'>"

    id: Mapped[PK]
    title: Mapped[str] = mapped_column(String(200))
    shelf_id: Mapped[int] = mapped_column(ForeignKey("shelf.id"))
    shelf: Mapped[Shelf] = relationship(back_populates="books")


def create_app(**settings: object) -> Kettle:
    app = Kettle(**settings)

    @app.post("/shelves", status_code=201)
    def add_shelf(name: str, db: Session) -> dict[str, int]:
        shelf = Shelf(name=name)
        db.add(shelf)
        db.flush()  # sends the INSERT now, so shelf.id is known
        return {"id": shelf.id}  # committed when the handler returns

    @app.post("/shelves/{shelf_id:int}/books", status_code=201)
    def add_book(shelf_id: int, title: str, db: Session) -> dict[str, int]:
        shelf = get_or_404(db, Shelf, shelf_id)  # 404 if there is no such shelf
        book = Book(title=title, shelf=shelf)
        db.add(book)
        db.flush()
        return {"id": book.id}

    @app.get("/books")
    def books(db: Session, page: int = 1) -> dict[str, object]:
        query = select(Book).options(selectinload(Book.shelf)).order_by(Book.id)
        found = paginate(db, query, page, per_page=10)
        return {
            "books": [{"title": b.title, "shelf": b.shelf.name} for b in found],
            **found.to_dict(),  # page, per_page, total, pages, has_next, has_prev
        }

    @app.get("/feed")
    def feed(db: Session, after: str | None = None) -> dict[str, object]:
        found = keyset(db, select(Book), Book.id, after=after, per_page=10)
        return {"titles": [b.title for b in found], "next": found.next_cursor}

    @app.get("/books/{book_id:int}")
    async def book(book_id: int, db: AsyncSession) -> dict[str, object]:
        found = await get_or_404(db, Book, book_id)
        return {"title": found.title, "created_at": found.created_at.isoformat()}

    return app


app = create_app()

if __name__ == "__main__":
    get_database(app).create_all()  # without migrations; see `kettle db`
