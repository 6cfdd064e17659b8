"""Bookshop: a small JSON API for authors and books, with typed handlers.

Run it from this folder with ``kettle run`` and open http://127.0.0.1:8000/docs.
Reading is open to all; writing needs the ``X-API-Key`` header (``KETTLE_API_KEY``,
default ``letmein``). The data lives in memory, in one process.
"""

import enum
import itertools
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field

from kettle import Depends
from kettle import Header
from kettle import HTTPException
from kettle import Kettle
from kettle import Query
from kettle import current_app
from kettle.exceptions import RequestValidationError

app = Kettle(
    OPENAPI_TITLE="Bookshop",
    OPENAPI_VERSION="1.0.0",
    OPENAPI_DESCRIPTION="Authors and books. Writes need the `X-API-Key` header.",
)
app.config.setdefault("API_KEY", "letmein")


# -- models ------------------------------------------------------------------------


class Genre(enum.StrEnum):
    FICTION = "fiction"
    HISTORY = "history"
    POETRY = "poetry"
    SCIENCE = "science"


Title = Annotated[str, Field(min_length=1, max_length=200)]
Year = Annotated[int, Field(ge=1450, le=2100)]
Isbn = Annotated[str, Field(pattern=r"^97[89][0-9]{10}$", examples=["9780141439518"])]
Tag = Annotated[str, Field(min_length=1, max_length=30)]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt key is an error (422)


class AuthorIn(Input):
    name: str = Field(min_length=1, max_length=100)
    born: int | None = Field(None, ge=-3000, le=2100)


class AuthorOut(AuthorIn):
    id: int


class BookIn(Input):
    title: Title
    author_id: int
    year: Year
    genre: Genre
    isbn: Isbn | None = None
    tags: list[Tag] = Field(default=[], max_length=10)


class BookOut(BookIn):
    id: int


class BookPatch(Input):
    """The fields to change; those left out (or null) keep their value."""

    title: Title | None = None
    author_id: int | None = None
    year: Year | None = None
    genre: Genre | None = None
    isbn: Isbn | None = None
    tags: list[Tag] | None = Field(None, max_length=10)


class BookPage(BaseModel):
    items: list[BookOut]
    total: int = Field(description="Books matching the filters, on all pages.")
    limit: int
    offset: int


class ErrorOut(BaseModel):
    detail: str


# -- storage and dependencies ------------------------------------------------------


class Store:
    """Everything in memory; hold ``lock`` while reading or writing."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.authors: dict[int, AuthorOut] = {}
        self.books: dict[int, BookOut] = {}
        self.author_ids = itertools.count(1)
        self.book_ids = itertools.count(1)


STORE = Store()


def unit_of_work() -> Iterator[Store]:
    """The store, locked until the response is made (one request at a time)."""
    with STORE.lock:
        yield STORE


def require_api_key(
    x_api_key: Annotated[str | None, Header(description="Needed to write.")] = None,
) -> None:
    """Refuse a request without the right ``X-API-Key`` header (401)."""
    expected = current_app.config["API_KEY"].encode()
    if x_api_key is None or not secrets.compare_digest(x_api_key.encode(), expected):
        raise HTTPException(401, "A valid X-API-Key header is required.")


@dataclass
class Pagination:
    limit: int
    offset: int


def pagination(
    limit: Annotated[int, Query(ge=1, le=100, description="Page size.")] = 20,
    offset: Annotated[int, Query(ge=0, description="Items to skip.")] = 0,
) -> Pagination:
    """The page asked for, from two query parameters any list can share."""
    return Pagination(limit, offset)


Db = Annotated[Store, Depends(unit_of_work)]
Writer = Annotated[None, Depends(require_api_key)]  # before Db: no lock if refused


def error(description: str) -> dict[str, object]:
    return {"description": description, "model": ErrorOut}


NOT_FOUND = {404: error("No such item.")}
WRITE = {401: error("Missing or wrong X-API-Key.")}
BODY = {
    **WRITE,
    413: error("The body is over 1 MiB."),
    415: error("The Content-Type is not JSON."),
}


def find_book(db: Store, book_id: int) -> BookOut:
    """The book, or a 404."""
    if book_id not in db.books:
        raise HTTPException(404, f"Book {book_id} does not exist.")
    return db.books[book_id]


def check_author(db: Store, author_id: int | None) -> None:
    """A 422 in the usual shape when the body names an unknown author."""
    if author_id is not None and author_id not in db.authors:
        msg = f"Author {author_id} does not exist."
        raise RequestValidationError(
            [{"loc": ["body", "author_id"], "msg": msg, "type": "unknown_author"}]
        )


# -- authors -----------------------------------------------------------------------


@app.get("/authors", tags=["authors"])
def list_authors(db: Db) -> list[AuthorOut]:
    """List all authors."""
    return list(db.authors.values())


@app.post("/authors", tags=["authors"], status_code=201, responses=BODY)
def create_author(author: AuthorIn, _: Writer, db: Db) -> AuthorOut:
    """Add an author."""
    new = AuthorOut(id=next(db.author_ids), **author.model_dump())
    db.authors[new.id] = new
    return new


@app.get("/authors/{author_id:int}", tags=["authors"], responses=NOT_FOUND)
def get_author(author_id: int, db: Db) -> AuthorOut:
    """Show one author."""
    if author_id not in db.authors:
        raise HTTPException(404, f"Author {author_id} does not exist.")
    return db.authors[author_id]


# -- books -------------------------------------------------------------------------


@app.get("/books", tags=["books"])
def list_books(
    page: Annotated[Pagination, Depends(pagination)],
    db: Db,
    genre: Genre | None = None,
    q: Annotated[str | None, Query(max_length=100, description="In titles.")] = None,
    tag: list[str] = Query([], description="Books with every tag given."),
    author_id: int | None = None,
) -> BookPage:
    """List books, newest first, filtered and a page at a time."""
    found = [
        book
        for book in reversed(db.books.values())
        if (genre is None or book.genre == genre)
        and (q is None or q.casefold() in book.title.casefold())
        and all(t in book.tags for t in tag)
        and (author_id is None or book.author_id == author_id)
    ]
    items = found[page.offset : page.offset + page.limit]
    return BookPage(items=items, total=len(found), limit=page.limit, offset=page.offset)


@app.post("/books", tags=["books"], status_code=201, responses=BODY)
def create_book(book: BookIn, _: Writer, db: Db) -> BookOut:
    """Add a book by a known author."""
    check_author(db, book.author_id)
    new = BookOut(id=next(db.book_ids), **book.model_dump())
    db.books[new.id] = new
    return new


@app.get("/books/{book_id:int}", tags=["books"], responses=NOT_FOUND)
def get_book(book_id: int, db: Db) -> BookOut:
    """Show one book."""
    return find_book(db, book_id)


@app.patch("/books/{book_id:int}", tags=["books"], responses={**NOT_FOUND, **BODY})
def update_book(book_id: int, changes: BookPatch, _: Writer, db: Db) -> BookOut:
    """Change some fields of a book."""
    book = find_book(db, book_id)
    check_author(db, changes.author_id)
    db.books[book_id] = book.model_copy(update=changes.model_dump(exclude_none=True))
    return db.books[book_id]


@app.delete(
    "/books/{book_id:int}",
    tags=["books"],
    status_code=204,
    responses={**NOT_FOUND, **WRITE},
)
def delete_book(book_id: int, _: Writer, db: Db) -> None:
    """Remove a book."""
    find_book(db, book_id)
    del db.books[book_id]
