"""kettle.admin: every page, permission and action, on SQLite and PostgreSQL,
under ASGI and WSGI."""

from __future__ import annotations

import datetime
import re
import time

import pytest
from sqlalchemy import Boolean
from sqlalchemy import Date
from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy import event
from sqlalchemy import select
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from kettle import Kettle
from kettle.admin import Admin
from kettle.admin import Inline
from kettle.admin import LogEntry
from kettle.admin import ModelAdmin
from kettle.admin import action
from kettle.admin import display
from kettle.auth import Group
from kettle.auth import User
from kettle.auth import grant
from kettle.auth import hashers
from kettle.db import Model
from kettle.db import get_database
from kettle.exceptions import ImproperlyConfigured

hashers.set_test_parameters()
SECRET = "admin-tests-secret-key-0123456789abcdefghijklmnop"
BOTH_DBS = pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)


class AdmAuthor(Model):
    __tablename__ = "adm_author"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))

    def __str__(self) -> str:
        return self.name


class AdmBook(Model):
    __tablename__ = "adm_book"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    in_print: Mapped[bool] = mapped_column(Boolean, default=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("adm_author.id"))
    author: Mapped[AdmAuthor] = relationship()
    reviews: Mapped[list[AdmReview]] = relationship(
        back_populates="book", cascade="all, delete-orphan"
    )

    def __str__(self) -> str:
        return self.title

    def short_title(self) -> str:
        return self.title[:5]


class AdmReview(Model):
    __tablename__ = "adm_review"
    id: Mapped[int] = mapped_column(primary_key=True)
    book_id: Mapped[int] = mapped_column(ForeignKey("adm_book.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(String(200))
    book: Mapped[AdmBook] = relationship(back_populates="reviews")

    def __str__(self) -> str:
        return self.text


@action("Mark out of print", permission="change")
def out_of_print(db, books):
    for book in books:
        book.in_print = False
    return f"{len(books)} book(s) marked out of print."


class ReviewInline(Inline):
    model = AdmReview
    extra = 2


class BookAdmin(ModelAdmin):
    inlines = [ReviewInline]
    list_display = ["title", "author", "in_print"]
    search_fields = ["title"]
    list_filter = ["in_print", "author"]
    ordering = ["title"]
    actions = [out_of_print]
    per_page = 5


@pytest.fixture
def site(database_url):
    app = Kettle(SECRET_KEY=SECRET, DATABASE_URL=database_url.url_sync, RATELIMIT_ENABLED=False)
    admin = Admin(app)
    admin.register(AdmAuthor, search_fields=["name"])
    admin.register(AdmBook, BookAdmin)
    db = get_database(app)
    db.create_all()
    with db.session() as s:
        s.add(User(username="boss", password="boss password", is_staff=True, is_superuser=True))
        s.add(User(username="clerk", password="clerk password", is_staff=True))
        s.add(User(username="reader", password="reader password"))
        tolkien, austen = AdmAuthor(name="Tolkien"), AdmAuthor(name="Austen")
        s.add_all([tolkien, austen])
        for n in range(7):
            s.add(AdmBook(title=f"Hobbit {n}", author=tolkien, in_print=n % 2 == 0))
        emma = AdmBook(title="Emma", author=austen)
        emma.reviews = [AdmReview(text="lovely"), AdmReview(text="long")]
        s.add(emma)
        s.commit()
    yield app
    db.drop_all()
    db.dispose()


def log_in(client, name):
    done = client.post("/auth/login", data={"username": name, "password": f"{name} password"})
    assert done.status_code == 303, done.text


def rows(page) -> list[str]:
    return re.findall(r'<td><a href="/admin/adm_book/\d+/">([^<]*)</a></td>', page.text)


@BOTH_DBS
def test_only_staff_get_in(site, make_client):
    client = make_client(site, follow_redirects=False)
    assert client.get("/admin/", headers={"accept": "text/html"}).headers["location"].startswith("/auth/login?next=")
    log_in(client, "reader")
    assert client.get("/admin/").status_code == 403
    assert client.get("/admin/adm_book/").status_code == 403


@BOTH_DBS
def test_dashboard_list_search_sort_filter_and_pages(site, make_client):
    client = make_client(site, follow_redirects=False)
    log_in(client, "boss")
    home = client.get("/admin/")
    assert "AdmBook" in home.text and "AdmAuthor" in home.text
    first = client.get("/admin/adm_book/")
    assert "8 AdmBook records" in first.text
    assert rows(first) == ["Emma", "Hobbit 0", "Hobbit 1", "Hobbit 2", "Hobbit 3"]
    second = client.get("/admin/adm_book/?page=2")
    assert rows(second) == ["Hobbit 4", "Hobbit 5", "Hobbit 6"]
    assert rows(client.get("/admin/adm_book/?o=-title"))[0] == "Hobbit 6"
    assert rows(client.get("/admin/adm_book/?q=emm")) == ["Emma"]
    assert rows(client.get("/admin/adm_book/?q=%25")) == []  # % is literal
    out = client.get("/admin/adm_book/?f.in_print=0")
    assert rows(out) == ["Hobbit 1", "Hobbit 3", "Hobbit 5"]
    with get_database(site).session() as db:
        austen = db.scalars(select(AdmAuthor.id).filter_by(name="Austen")).one()
    assert rows(client.get(f"/admin/adm_book/?f.author={austen}")) == ["Emma"]
    assert rows(client.get("/admin/adm_book/?f.author=nonsense")) == []
    assert client.get("/admin/adm_book/?o=password").status_code == 200  # ignored
    assert client.get("/admin/nothing/").status_code == 404


def test_computed_list_columns(tmp_path, make_client):
    """list_display names methods of the model or the ModelAdmin, described by
    @display (heading, Yes/No, the column that sorts them)."""

    class ComputedAdmin(ModelAdmin):
        list_display = ["title", "short_title", "title_length", "printed"]
        ordering = ["title"]

        def title_length(self, book):
            return len(book.title)

        @display(description="In the shops?", boolean=True, ordering="-in_print")
        def printed(self, book):
            return book.in_print

    app = Kettle(SECRET_KEY=SECRET, DATABASE_URL=f"sqlite:///{tmp_path / 'c.db'}")
    Admin(app).register(AdmBook, ComputedAdmin)
    db = get_database(app)
    db.create_all()
    with db.session() as s:
        s.add(User(username="boss", password="boss password", is_staff=True, is_superuser=True))
        author = AdmAuthor(name="Tolkien")
        s.add_all([AdmBook(title="Silmarillion", author=author, in_print=False), AdmBook(title="Hobbit", author=author)])
        s.commit()
    client = make_client(app, follow_redirects=False)
    log_in(client, "boss")
    page = client.get("/admin/adm_book/")
    cells = re.findall(r"<td>(?:<a [^>]*>)?([^<]*)(?:</a>)?</td>", page.text)
    assert cells == ["Hobbit", "Hobbi", "6", "Yes", "Silmarillion", "Silma", "12", "No"]
    assert "In the shops?</a>" in page.text  # sortable: a link
    assert 'id="sort-title_length"' not in page.text and "Title length" in page.text
    # sorted by its ordering column, in-print first; the reverse when descending
    assert rows(client.get("/admin/adm_book/?o=printed")) == ["Hobbit", "Silmarillion"]
    assert rows(client.get("/admin/adm_book/?o=-printed")) == ["Silmarillion", "Hobbit"]
    assert rows(client.get("/admin/adm_book/?o=title_length")) == ["Hobbit", "Silmarillion"]  # ignored

    admin = Admin(Kettle(SECRET_KEY=SECRET, DATABASE_URL=f"sqlite:///{tmp_path / 'd.db'}"))

    class BadOrdering(ModelAdmin):
        list_display = ["loud"]

        @display(ordering="volume")
        def loud(self, book):
            return book.title.upper()

    with pytest.raises(ImproperlyConfigured, match="ordering 'volume' is not a column"):
        admin.register(AdmBook, BadOrdering)
    with pytest.raises(ImproperlyConfigured, match="no column, relation or method"):
        admin.register(AdmBook, list_display=["author_name"])


@BOTH_DBS
def test_the_list_page_runs_a_constant_number_of_queries(site, make_client):
    client = make_client(site, follow_redirects=False)
    log_in(client, "boss")
    engine = get_database(site).engine()
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        client.get("/admin/adm_book/?page=1")
        small = len(statements)
        with get_database(site).session() as db:
            tolkien = db.scalars(select(AdmAuthor).filter_by(name="Tolkien")).one()
            for n in range(40):
                db.add(AdmBook(title=f"More {n}", author=tolkien))
            db.commit()
        statements.clear()
        page = client.get("/admin/adm_book/?page=2")
        assert "Tolkien" in page.text
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == small  # the authors come with the page's rows


@BOTH_DBS
def test_add_edit_history_and_delete_with_its_cascade(site, make_client):
    client = make_client(site, follow_redirects=False)
    log_in(client, "boss")
    form = client.get("/admin/adm_book/add")
    assert 'name="title"' in form.text and "<option" in form.text  # author select
    with get_database(site).session() as db:
        austen = db.scalars(select(AdmAuthor.id).filter_by(name="Austen")).one()
    bad = client.post("/admin/adm_book/add", data={"title": "", "author_id": str(austen)})
    assert bad.status_code == 200 and "This field is required." in bad.text
    made = client.post(
        "/admin/adm_book/add",
        data={"title": "Persuasion", "author_id": str(austen), "in_print": "on"},
    )
    assert made.status_code == 303
    with get_database(site).session() as db:
        book = db.scalars(select(AdmBook).filter_by(title="Persuasion")).one()
        emma = db.scalars(select(AdmBook.id).filter_by(title="Emma")).one()
    edit = client.get(f"/admin/adm_book/{book.id}/")
    assert 'value="Persuasion"' in edit.text
    client.post(
        f"/admin/adm_book/{book.id}/",
        data={"title": "Persuasion (1817)", "author_id": str(austen), "in_print": "on"},
    )
    history = client.get(f"/admin/adm_book/{book.id}/history")
    assert "Changed title." in history.text and "boss" in history.text
    confirm = client.get(f"/admin/adm_book/{emma}/delete")
    assert "AdmReview: lovely" in confirm.text and "AdmReview: long" in confirm.text
    assert client.post(f"/admin/adm_book/{emma}/delete").status_code == 303
    with get_database(site).session() as db:
        assert db.get(AdmBook, emma) is None
        assert db.scalars(select(AdmReview)).all() == []
        actions = db.scalars(select(LogEntry.action).order_by(LogEntry.id)).all()
    assert actions == ["add", "change", "delete"]
    assert client.get("/admin/adm_book/99999/").status_code == 404
    assert client.get("/admin/adm_book/abc/").status_code == 404


@BOTH_DBS
def test_bulk_delete_asks_first_and_custom_actions_run(site, make_client):
    client = make_client(site, follow_redirects=False)
    log_in(client, "boss")
    with get_database(site).session() as db:
        ids = [str(i) for i in db.scalars(select(AdmBook.id).where(AdmBook.title.like("Hobbit%")).order_by(AdmBook.id)).all()]
    confirm = client.post(
        "/admin/adm_book/action", data={"action": "delete_selected", "ids": ids[:2]}
    )
    assert "Delete 2 AdmBook records?" in confirm.text
    with get_database(site).session() as db:
        assert len(db.scalars(select(AdmBook.id)).all()) == 8  # nothing yet
    done = client.post(
        "/admin/adm_book/action",
        data={"action": "delete_selected", "ids": ids[:2], "confirm": "yes"},
    )
    assert done.status_code == 303
    ran = client.post("/admin/adm_book/action", data={"action": "out_of_print", "ids": ids[2:4]})
    assert ran.status_code == 303
    with get_database(site).session() as db:
        assert len(db.scalars(select(AdmBook.id)).all()) == 6
        printed = db.scalars(select(AdmBook.in_print).where(AdmBook.id.in_([int(i) for i in ids[2:4]]))).all()
    assert printed == [False, False]
    assert client.post("/admin/adm_book/action", data={"action": "nope", "ids": ids[4:5]}).status_code == 400
    empty = client.post("/admin/adm_book/action", data={"action": "delete_selected"})
    assert empty.status_code == 303


@BOTH_DBS
def test_per_model_permissions_on_every_page_and_action(site, make_client):
    client = make_client(site, follow_redirects=False)
    log_in(client, "clerk")  # staff, no permissions yet
    assert client.get("/admin/").status_code == 200
    assert "AdmBook" not in client.get("/admin/").text
    assert client.get("/admin/adm_book/").status_code == 403
    with get_database(site).session() as db:
        clerk = db.scalars(select(User).filter_by(username="clerk")).one()
        editors = Group(name="book viewers")
        db.add(editors)
        grant(db, editors, "adm_book.view")
        clerk.groups.append(editors)
        db.commit()
        book = db.scalars(select(AdmBook.id).filter_by(title="Emma")).one()
    assert client.get("/admin/adm_book/").status_code == 200
    page = client.get(f"/admin/adm_book/{book}/")
    assert page.status_code == 200 and ">Save<" not in page.text
    assert client.post(f"/admin/adm_book/{book}/", data={"title": "x"}).status_code == 403
    assert client.get("/admin/adm_book/add").status_code == 403
    assert client.get(f"/admin/adm_book/{book}/delete").status_code == 403
    assert "delete_selected" not in client.get("/admin/adm_book/").text
    assert client.post(
        "/admin/adm_book/action", data={"action": "delete_selected", "ids": [str(book)], "confirm": "yes"}
    ).status_code == 403
    assert client.post(
        "/admin/adm_book/action", data={"action": "out_of_print", "ids": [str(book)]}
    ).status_code == 403
    with get_database(site).session() as db:
        assert db.get(AdmBook, book).in_print is True


def test_forms_carry_csrf_tokens(tmp_path):
    from kettle.testing import TestClient

    app = Kettle(SECRET_KEY=SECRET, DATABASE_URL=f"sqlite:///{tmp_path / 'c.db'}")
    Admin(app).register(AdmAuthor)
    get_database(app).create_all()
    with get_database(app).session() as s:
        s.add(User(username="boss", password="boss password", is_staff=True, is_superuser=True))
        s.commit()
    with TestClient(app, enforce_csrf_checks=True, follow_redirects=False) as client:
        page = client.get("/auth/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
        client.post("/auth/login", data={"username": "boss", "password": "boss password", "csrf_token": token})
        add = client.get("/admin/adm_author/add")
        assert 'name="csrf_token"' in add.text
        assert client.post("/admin/adm_author/add", data={"name": "X"}).status_code == 403
    get_database(app).dispose()


def test_bad_options_are_clear_errors(tmp_path):
    app = Kettle(SECRET_KEY=SECRET, DATABASE_URL=f"sqlite:///{tmp_path / 'o.db'}")
    admin = Admin(app)
    with pytest.raises(ImproperlyConfigured, match="no column, relation or method 'titel'"):
        admin.register(AdmBook, list_display=["titel"])
    with pytest.raises(ImproperlyConfigured, match="not a text column"):
        admin.register(AdmBook, search_fields=["in_print"])
    with pytest.raises(ImproperlyConfigured, match="unknown option"):
        admin.register(AdmBook, list_dispaly=["title"])
    admin.register(AdmBook)
    with pytest.raises(ImproperlyConfigured, match="registered in the admin already"):
        admin.register(AdmBook)


@BOTH_DBS
def test_autocomplete_fields_for_large_related_tables(database_url, make_client):
    app = Kettle(SECRET_KEY=SECRET, DATABASE_URL=database_url.url_sync, RATELIMIT_ENABLED=False)
    admin = Admin(app)
    admin.register(AdmAuthor, search_fields=["name"])
    admin.register(AdmBook, autocomplete_fields=["author"])
    db = get_database(app)
    db.create_all()
    with db.session() as s:
        s.add(User(username="boss", password="boss password", is_staff=True, is_superuser=True))
        s.add_all([AdmAuthor(name=f"Writer {n}") for n in range(30)] + [AdmAuthor(name="Austen")])
        s.commit()
        austen = s.scalars(select(AdmAuthor.id).filter_by(name="Austen")).one()
    try:
        client = make_client(app, follow_redirects=False)
        log_in(client, "boss")
        form = client.get("/admin/adm_book/add").text
        assert "<select" not in form.split('name="author_id"')[0][-200:]  # no list of rows
        assert 'data-autocomplete="/admin/adm_book/autocomplete?field=author"' in form
        assert client.get("/admin/adm_book/autocomplete?field=author&q=aus").json() == [
            {"id": austen, "label": "Austen"}
        ]
        assert len(client.get("/admin/adm_book/autocomplete?field=author&q=writer").json()) == 20
        assert client.get("/admin/adm_book/autocomplete?field=title").status_code == 404
        missing = client.post("/admin/adm_book/add", data={"title": "Emma", "author_id": "99999"})
        assert "Choose an existing AdmAuthor." in missing.text
        assert client.post(
            "/admin/adm_book/add", data={"title": "Emma", "author_id": str(austen)}
        ).status_code == 303
        with db.session() as s:
            assert s.scalars(select(AdmBook.author_id)).all() == [austen]
    finally:
        db.drop_all()
        db.dispose()


def test_an_autocomplete_target_needs_search_fields(tmp_path):
    app = Kettle(SECRET_KEY=SECRET, DATABASE_URL=f"sqlite:///{tmp_path / 'a.db'}")
    admin = Admin(app)
    admin.register(AdmAuthor)  # no search_fields
    admin.register(AdmBook, autocomplete_fields=["author"])
    with pytest.raises(ImproperlyConfigured, match="with search_fields"):
        admin.check()
    with pytest.raises(ImproperlyConfigured, match="not a many-to-one relation"):
        Admin(Kettle(SECRET_KEY=SECRET)).register(AdmBook, autocomplete_fields=["title"])


def inline_rows(page) -> list[str]:
    """The values of the review rows' text inputs, in order."""
    tags = re.findall(r'<input [^>]*name="adm_review-\d+-text"[^>]*>', page.text)
    return [(re.search(r'value="([^"]*)"', t) or [None, ""])[1] for t in tags]


def review_texts(app) -> list[str]:
    with get_database(app).session() as db:
        return sorted(db.scalars(select(AdmReview.text)).all())


@BOTH_DBS
def test_inlines_edit_add_and_delete_children_with_the_parent(site, make_client):
    client = make_client(site, follow_redirects=False)
    log_in(client, "boss")
    with get_database(site).session() as db:
        emma = db.scalars(select(AdmBook).filter_by(title="Emma")).one()
        austen, key = emma.author_id, emma.id
        lovely, long_ = sorted(emma.reviews, key=lambda r: r.id)
        lovely_id, long_id = lovely.id, long_.id
    page = client.get(f"/admin/adm_book/{key}/")
    assert 'name="adm_review-rows" value="4"' in page.text  # two children, two empty rows
    assert 'name="book_id"' not in page.text and "adm_review-0-book_id" not in page.text
    assert inline_rows(page) == ["lovely", "long", "", ""]
    form = {
        "title": "Emma",
        "author_id": str(austen),
        "in_print": "on",
        "adm_review-rows": "4",
        "adm_review-0-_key": str(lovely_id),
        "adm_review-0-text": "lovely!",
        "adm_review-1-_key": str(long_id),
        "adm_review-1-text": "long",
        "adm_review-1-_delete": "on",
        "adm_review-2-text": "new one",
        "adm_review-3-text": "",
    }
    # a row with an error: nothing at all is saved, the error is by its field
    bad = client.post(f"/admin/adm_book/{key}/", data={**form, "title": "Emma 2", "adm_review-2-text": "x" * 201})
    assert bad.status_code == 200
    assert 'id="id_adm_review-2-text-error"' in bad.text and 'aria-invalid="true"' in bad.text
    assert "Nothing was saved: correct what is marked below." in bad.text
    assert review_texts(site) == ["long", "lovely"]
    with get_database(site).session() as db:
        assert db.get(AdmBook, key).title == "Emma"
    assert client.post(f"/admin/adm_book/{key}/", data=form).status_code == 303
    assert review_texts(site) == ["lovely!", "new one"]
    history = client.get(f"/admin/adm_book/{key}/history").text
    assert "Changed text of AdmReview" in history
    assert "Deleted AdmReview “long”." in history and "Added AdmReview “new one”." in history
    with get_database(site).session() as db:
        assert db.get(AdmReview, lovely_id).book_id == key
        new = db.scalars(select(AdmReview).filter_by(text="new one")).one()
        assert new.book_id == key
    # a form without the inline's rows leaves the children alone
    assert client.post(f"/admin/adm_book/{key}/", data={"title": "Emma", "author_id": str(austen)}).status_code == 303
    assert review_texts(site) == ["lovely!", "new one"]


@BOTH_DBS
def test_a_parent_and_its_children_are_added_in_one_form(site, make_client):
    client = make_client(site, follow_redirects=False)
    log_in(client, "boss")
    add = client.get("/admin/adm_book/add").text
    assert 'name="adm_review-rows" value="2"' in add and "adm_review-0-_key" not in add
    with get_database(site).session() as db:
        austen = db.scalars(select(AdmAuthor.id).filter_by(name="Austen")).one()
    done = client.post(
        "/admin/adm_book/add",
        data={
            "title": "Sense and Sensibility",
            "author_id": str(austen),
            "adm_review-rows": "2",
            "adm_review-0-text": "witty",
            "adm_review-1-text": "  ",
        },
    )
    assert done.status_code == 303
    with get_database(site).session() as db:
        book = db.scalars(select(AdmBook).filter_by(title="Sense and Sensibility")).one()
        assert [r.text for r in book.reviews] == ["witty"]  # the blank row is no child
        entry = db.scalars(select(LogEntry).filter_by(object_id=str(book.id))).one()
    assert entry.action == "add" and entry.message == "Added AdmReview “witty”."


@BOTH_DBS
def test_inline_submissions_that_were_never_offered_are_refused(site, make_client):
    client = make_client(site, follow_redirects=False)
    log_in(client, "boss")
    with get_database(site).session() as db:
        emma = db.scalars(select(AdmBook).filter_by(title="Emma")).one()
        hobbit = db.scalars(select(AdmBook).filter_by(title="Hobbit 0")).one()
        base = {"title": "Hobbit 0", "author_id": str(hobbit.author_id)}
        other = emma.reviews[0].id
        hobbit_id = hobbit.id
    url = f"/admin/adm_book/{hobbit_id}/"
    stolen = client.post(url, data={**base, "adm_review-rows": "1", "adm_review-0-_key": str(other), "adm_review-0-_delete": "on"})
    assert stolen.status_code == 400 and "is not a child of this record" in stolen.text
    assert client.post(url, data={**base, "adm_review-rows": "1", "adm_review-0-_key": "nonsense"}).status_code == 400
    assert client.post(url, data={**base, "adm_review-rows": "many"}).status_code == 400
    huge = client.post(url, data={**base, "adm_review-rows": "100000"})
    assert huge.status_code == 400 and "At most 100" in huge.text
    assert review_texts(site) == ["long", "lovely"]


@BOTH_DBS
def test_inline_rows_follow_the_child_models_permissions(site, make_client):
    client = make_client(site, follow_redirects=False)
    log_in(client, "clerk")
    with get_database(site).session() as db:
        clerk = db.scalars(select(User).filter_by(username="clerk")).one()
        grant(db, clerk, "adm_book.change")
        db.commit()
        emma = db.scalars(select(AdmBook).filter_by(title="Emma")).one()
        key, author = emma.id, emma.author_id
        review = emma.reviews[0].id
    url = f"/admin/adm_book/{key}/"
    assert "adm_review-rows" not in client.get(url).text  # may not even see reviews
    with get_database(site).session() as db:
        grant(db, db.scalars(select(User).filter_by(username="clerk")).one(), "adm_review.view")
        db.commit()
    page = client.get(url).text
    assert 'name="adm_review-rows" value="2"' in page  # the two, read-only; no new rows
    assert "adm_review-0-text" not in page and "lovely" in page and "_delete" not in page
    base = {"title": "Emma", "author_id": str(author), "adm_review-rows": "1"}
    assert client.post(url, data={**base, "adm_review-0-_key": str(review), "adm_review-0-_delete": "on"}).status_code == 403
    assert client.post(url, data={**base, "adm_review-0-text": "sneaky"}).status_code == 403
    client.post(url, data={**base, "adm_review-0-_key": str(review), "adm_review-0-text": "changed"})
    assert review_texts(site) == ["long", "lovely"]  # changing needs adm_review.change


def test_inline_configuration_errors_are_clear(tmp_path):
    admin = Admin(Kettle(SECRET_KEY=SECRET, DATABASE_URL=f"sqlite:///{tmp_path / 'i.db'}"))
    with pytest.raises(ImproperlyConfigured, match="needs exactly one many-to-one relation to AdmAuthor"):
        admin.register(AdmAuthor, inlines=[AdmReview])
    with pytest.raises(ImproperlyConfigured, match="neither an Inline subclass nor a model"):
        admin.register(AdmAuthor, inlines=["reviews"])
    made = admin.register(AdmBook, inlines=[AdmReview])  # a model: an Inline with defaults
    assert made.inline_admins[0].fk == "book_id" and made.inline_admins[0].form_fields == ["text"]


@pytest.mark.parametrize("blueprint_first", [True, False])
def test_a_blueprint_registers_its_models_in_an_admin_section(tmp_path, make_client, blueprint_first):
    from kettle import Blueprint
    from kettle.admin import AdminSection

    bp = Blueprint("book_shop", url_prefix="/shop")
    section = AdminSection(bp)
    section.register(AdmAuthor, search_fields=["name"])
    with pytest.raises(ImproperlyConfigured, match="has an AdminSection already"):
        AdminSection(bp)
    with pytest.raises(ImproperlyConfigured, match="no column, relation or method 'nom'"):
        section.register(AdmBook, list_display=["nom"])  # checked where it is written
    for n in range(2):  # one blueprint, two apps: each admin manages its models
        app = Kettle(SECRET_KEY=SECRET, DATABASE_URL=f"sqlite:///{tmp_path / f's{n}.db'}", RATELIMIT_ENABLED=False)
        if blueprint_first:
            app.register_blueprint(bp)
        admin = Admin(app)
        admin.register(AdmBook)
        if not blueprint_first:
            app.register_blueprint(bp)
        db = get_database(app)
        db.create_all()
        with db.session() as s:
            s.add(User(username="boss", password="boss password", is_staff=True, is_superuser=True))
            s.add(AdmAuthor(name="Woolf"))
            s.commit()
        client = make_client(app, follow_redirects=False)
        log_in(client, "boss")
        home = client.get("/admin/").text
        shop = home.index("<h2", home.index("Book shop") - 40)
        assert home.index("AdmBook") < shop < home.index("AdmAuthor")  # the app's, then the section's
        assert "Woolf" in client.get("/admin/adm_author/").text
        assert admin.registry["adm_author"].section == "Book shop"
        db.dispose()


def test_a_model_registered_twice_through_a_section_is_an_error(tmp_path):
    from kettle import Blueprint
    from kettle.admin import AdminSection

    bp = Blueprint("twice")
    AdminSection(bp, label="Again").register(AdmAuthor)
    app = Kettle(SECRET_KEY=SECRET, DATABASE_URL=f"sqlite:///{tmp_path / 't.db'}")
    Admin(app).register(AdmAuthor)
    app.register_blueprint(bp)
    with pytest.raises(ImproperlyConfigured, match="registered in the admin already"):
        app.extensions["admin"].check()


class AdmEvent(Model):
    __tablename__ = "adm_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    day: Mapped[datetime.date | None] = mapped_column(Date)
    at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True))


@BOTH_DBS
def test_dates_are_filtered_by_today_week_month_and_year(database_url, make_client):
    app = Kettle(SECRET_KEY=SECRET, DATABASE_URL=database_url.url_sync, RATELIMIT_ENABLED=False)
    Admin(app).register(AdmEvent, list_display=["name", "day"], list_filter=["day", "at"], ordering=["name"])
    db = get_database(app)
    db.create_all()
    now = datetime.datetime.now(datetime.UTC)
    midnight = datetime.datetime.combine(now.date() + datetime.timedelta(days=1), datetime.time(), datetime.UTC)
    if (midnight - now).total_seconds() < 60:  # the admin's "today" must not move mid-test
        time.sleep((midnight - now).total_seconds() + 0.1)
        now = datetime.datetime.now(datetime.UTC)
    today = now.date()
    ages = {"now": 0, "three": 3, "twenty": 20, "old": 400}
    with db.session() as s:
        s.add(User(username="boss", password="boss password", is_staff=True, is_superuser=True))
        for name, days in ages.items():
            s.add(AdmEvent(name=name, day=today - datetime.timedelta(days=days), at=now - datetime.timedelta(days=days)))
        s.add(AdmEvent(name="undated", day=None, at=now - datetime.timedelta(days=9000)))
        s.commit()
    try:
        client = make_client(app, follow_redirects=False)
        log_in(client, "boss")
        page = client.get("/admin/adm_event/").text
        assert '<option value="7d">Past 7 days</option>' in page and '<option value="none">No date</option>' in page

        def names(query):
            found = client.get(f"/admin/adm_event/?{query}")
            assert found.status_code == 200
            return sorted(re.findall(r'<td><a href="/admin/adm_event/\d+/">([^<]*)</a></td>', found.text))

        def dated(keep):
            return sorted(n for n, d in ages.items() if keep(today - datetime.timedelta(days=d)))

        for field in ("day", "at"):
            assert names(f"f.{field}=today") == ["now"]
            assert names(f"f.{field}=7d") == ["now", "three"]
            assert names(f"f.{field}=month") == dated(lambda d: (d.year, d.month) == (today.year, today.month))
            assert names(f"f.{field}=year") == dated(lambda d: d.year == today.year)
            assert names(f"f.{field}=decade") == []  # not a choice: no rows
        assert names("f.day=none") == ["undated"]
    finally:
        db.drop_all()
        db.dispose()


def test_a_filter_on_a_column_it_cannot_offer_is_an_error(tmp_path):
    admin = Admin(Kettle(SECRET_KEY=SECRET, DATABASE_URL=f"sqlite:///{tmp_path / 'f.db'}"))
    with pytest.raises(ImproperlyConfigured, match="'title' is not a boolean, enum, date or many-to-one"):
        admin.register(AdmBook, list_filter=["title"])
