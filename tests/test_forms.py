"""Forms (``kettle.forms``): declared fields and their checks, binding from a
form body or JSON, accessible HTML with the user's input kept and escaped, the
CSRF field, file fields, and uploads refused over the limits."""

from __future__ import annotations

import datetime
import decimal
import os
import re
import tempfile

import pytest

from kettle import Kettle
from kettle import redirect
from kettle.forms import BooleanField
from kettle.forms import ChoiceField
from kettle.forms import DateField
from kettle.forms import DecimalField
from kettle.forms import EmailField
from kettle.forms import FileField
from kettle.forms import Form
from kettle.forms import HiddenField
from kettle.forms import IntegerField
from kettle.forms import MultipleChoiceField
from kettle.forms import PasswordField
from kettle.forms import StringField
from kettle.forms import TextField
from kettle.forms import URLField
from kettle.forms import ValidationError
from test_templates import XSS

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def no_admin(value):
    if value.lower() == "admin":
        raise ValidationError(f"{value!r} is reserved.")


class SignupForm(Form):
    username = StringField(
        "User name",
        min_length=3,
        max_length=20,
        regex=r"[a-zA-Z0-9_<>/'\" ]+",
        message="Letters, digits and _ only.",
        validators=[no_admin],
        help_text="Shown on your posts.",
    )
    email = EmailField("Email")
    password = PasswordField("Password", min_length=8)
    confirm = PasswordField("Repeat the password")
    age = IntegerField("Age", min_value=13, max_value=130, required=False)
    website = URLField("Website", required=False)
    plan = ChoiceField("Plan", choices=[("free", "Free"), ("pro", "Pro <b>")])
    born = DateField("Born", required=False, max_value=datetime.date(2020, 1, 1))
    price = DecimalField("Price", required=False, places=2)
    bio = TextField("About you", required=False, max_length=200)
    terms = BooleanField("I accept the terms", required=True)
    next = HiddenField(required=False)

    def validate_email(self, value):
        return value.lower()

    def validate(self):
        if self.data.get("password") != self.data.get("confirm"):
            self.add_error("confirm", "The passwords differ.")


GOOD = {
    "username": "ann_1",
    "email": "Ann@Example.org",
    "password": "long enough",
    "confirm": "long enough",
    "age": "30",
    "website": "https://ann.example",
    "plan": "pro",
    "born": "1990-05-01",
    "price": "9.99",
    "bio": "Tea drinker.",
    "terms": "on",
    "next": "/home",
}


def test_a_valid_form_gives_converted_values():
    form = SignupForm(GOOD)
    assert form.is_valid(), form.errors
    assert form.data == {
        "username": "ann_1",
        "email": "ann@example.org",
        "password": "long enough",
        "confirm": "long enough",
        "age": 30,
        "website": "https://ann.example",
        "plan": "pro",
        "born": datetime.date(1990, 5, 1),
        "price": decimal.Decimal("9.99"),
        "bio": "Tea drinker.",
        "terms": True,
        "next": "/home",
    }
    optional = SignupForm({**GOOD, "age": "", "website": "  ", "born": ""})
    assert optional.is_valid()
    assert optional.data["age"] is None and optional.data["website"] is None


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"username": ""}, "username", "This field is required."),
        ({"username": "ab"}, "username", "Enter at least 3 characters (it has 2)."),
        (
            {"username": "a" * 21},
            "username",
            "Enter at most 20 characters (it has 21).",
        ),
        ({"username": "ann-1"}, "username", "Letters, digits and _ only."),
        ({"username": "Admin"}, "username", "'Admin' is reserved."),
        ({"email": "ann@"}, "email", "Enter a valid email address."),
        ({"email": "a b@c.de"}, "email", "Enter a valid email address."),
        ({"age": "12"}, "age", "Enter a number of at least 13."),
        ({"age": "131"}, "age", "Enter a number of at most 130."),
        ({"age": "3.5"}, "age", "Enter a whole number."),
        ({"age": "x"}, "age", "Enter a whole number."),
        ({"website": "javascript:alert(1)"}, "website", "Enter a valid URL"),
        ({"website": "ftp://x.example"}, "website", "Enter a valid URL"),
        ({"website": "http://[oops/"}, "website", "Enter a valid URL"),
        ({"plan": "gold"}, "plan", "Choose one of the options given."),
        ({"born": "2021-01-01"}, "born", "Enter a date on or before 2020-01-01."),
        ({"born": "01/05/1990"}, "born", "Enter a date as YYYY-MM-DD."),
        ({"price": "9.999"}, "price", "Enter at most 2 decimal places."),
        ({"price": "NaN"}, "price", "Enter a number."),
        ({"bio": "x" * 201}, "bio", "Enter at most 200 characters"),
        ({"terms": ""}, "terms", "Tick this box to go on."),
        ({"confirm": "something else"}, "confirm", "The passwords differ."),
    ],
)
def test_each_check(changes, field, message):
    form = SignupForm({**GOOD, **changes})
    assert not form.is_valid()
    assert list(form.errors) == [field]
    assert form.errors[field][0].startswith(message)
    assert field not in form.data


def test_an_unbound_form_is_not_valid_and_shows_its_initial_values():
    form = SignupForm(initial={"username": "ann", "plan": "pro"})
    assert not form.is_bound and not form.is_valid() and form.errors == {}
    html = str(form.username)
    assert '<label for="id_username">User name</label>' in html
    assert 'value="ann"' in html
    assert "required" in html and 'maxlength="20"' in html and 'minlength="3"' in html
    assert 'aria-describedby="id_username-help"' in html
    assert '<p class="help" id="id_username-help">Shown on your posts.</p>' in html
    assert '<option value="pro" selected>Pro &lt;b&gt;</option>' in str(form.plan)
    assert 'type="checkbox"' in str(form.terms)


def test_errors_are_rendered_next_to_the_input_which_is_kept():
    form = SignupForm({**GOOD, "username": "ab", "password": "short", "confirm": "x"})
    assert not form.is_valid()
    html = str(form.username)
    assert 'class="field field-username has-error"' in html
    assert 'value="ab"' in html  # what the user typed
    assert 'aria-invalid="true"' in html
    assert 'aria-describedby="id_username-help id_username-error"' in html
    assert '<ul class="errors" id="id_username-error"><li>Enter at least 3' in html
    assert "short" not in str(form.password)  # passwords are never sent back
    whole = str(form)
    assert whole.count('class="field ') == 11  # every field but the hidden one


def test_user_input_and_error_messages_are_escaped():
    for payload in XSS:
        form = SignupForm({**GOOD, "username": payload, "bio": payload})
        form.is_valid()
        html = str(form)
        assert "<script>" not in html and "<img" not in html and "<svg" not in html
        if "<" in payload or '"' in payload:
            assert payload not in html
    form = SignupForm({**GOOD, "username": "<b>admin</b>"})
    form.is_valid()
    assert "&lt;b&gt;" in str(form)  # in the message too


def test_the_same_form_from_json_and_from_a_form_body(make_client, tmp_path):
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "signup.html").write_text(
        '<form method="post">{{ form }}</form>'
    )
    app = Kettle(env_file=None, SECRET_KEY="k" * 32)
    app.root_path = str(tmp_path)
    from kettle.templating import render

    @app.route("/signup", methods=["GET", "POST"])
    def signup(form: SignupForm):
        if form.is_valid():
            return redirect("/done")
        return render("signup.html", form=form)

    @app.post("/api/signup")
    async def api_signup(form: SignupForm):
        if not form.is_valid():
            return {"errors": form.errors}, 422
        return {"user": form.data["username"], "age": form.data["age"]}

    @app.get("/done")
    def done():
        return "done"

    client = make_client(app, enforce_csrf_checks=True)
    page = client.get("/signup").text
    assert 'name="csrf_token"' in page and 'id="id_username"' in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/signup", data=GOOD).status_code == 403  # no token
    again = client.post("/signup", data={**GOOD, "username": "ab", "csrf_token": token})
    assert again.status_code == 200 and 'value="ab"' in again.text
    ok = client.post("/signup", data={**GOOD, "csrf_token": token})
    assert ok.text == "done"
    api = make_client(app)  # an API client: no cookies, no CSRF at stake
    good = {**GOOD, "age": 30, "terms": True}
    assert api.post("/api/signup", json=good).json() == {"user": "ann_1", "age": 30}
    bad = api.post("/api/signup", json={**good, "age": "old", "email": None})
    assert bad.status_code == 422
    assert bad.json() == {
        "errors": {
            "email": ["This field is required."],
            "age": ["Enter a whole number."],
        }
    }
    assert api.post("/api/signup", json=[1]).status_code == 422


class AvatarForm(Form):
    name = StringField()
    avatar = FileField(max_size=1000, content_types=["image/png"])


def test_file_fields_check_size_and_type(make_client):
    app = Kettle(env_file=None)

    @app.post("/avatar")
    def avatar(form: AvatarForm):
        if not form.is_valid():
            return {"errors": form.errors}, 400
        upload = form.data["avatar"]
        return {"filename": upload.filename, "size": upload.size}

    client = make_client(app)

    def send(content, ctype="image/png", name="a.png"):
        return client.post(
            "/avatar", data={"name": "x"}, files={"avatar": (name, content, ctype)}
        )

    assert send(PNG).json() == {"filename": "a.png", "size": len(PNG)}
    assert (
        send(PNG + b"\x00" * 1000)
        .json()["errors"]["avatar"][0]
        .startswith("The file is 1,040 bytes; the largest accepted is 1,000.")
    )
    assert send(PNG, "image/gif").json()["errors"]["avatar"] == [
        "Choose a file of type image/png."
    ]
    assert send(b"<svg onload=alert(1)>").json()["errors"]["avatar"] == [
        "The file is not the image/png it says."
    ]
    missing = client.post("/avatar", data={"name": "x"})
    assert missing.json()["errors"]["avatar"] == ["Choose a file."]
    assert AvatarForm.is_multipart.fget(AvatarForm())  # type: ignore[attr-defined]


def test_uploads_over_the_limit_are_413_and_leave_no_file(
    make_client, tmp_path, monkeypatch
):
    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    app = Kettle(env_file=None, MAX_FILE_SIZE=50_000, FORM_SPOOL_SIZE=1000)

    @app.post("/avatar")
    def avatar(form: AvatarForm):
        return {"valid": form.is_valid()}

    client = make_client(app)
    small = client.post(
        "/avatar", data={"name": "x"}, files={"avatar": ("a.png", PNG, "image/png")}
    )
    assert small.json() == {"valid": True}
    big = client.post(
        "/avatar",
        data={"name": "x"},
        files={"avatar": ("a.png", PNG + os.urandom(60_000), "image/png")},
    )
    assert big.status_code == 413
    assert os.listdir(spool) == []  # the part written to disk was removed


# -- model forms -----------------------------------------------------------------------

import enum  # noqa: E402

from sqlalchemy import ForeignKey  # noqa: E402
from sqlalchemy import Numeric  # noqa: E402
from sqlalchemy import String  # noqa: E402
from sqlalchemy import Text  # noqa: E402
from sqlalchemy.orm import Mapped  # noqa: E402
from sqlalchemy.orm import mapped_column  # noqa: E402
from sqlalchemy.orm import relationship  # noqa: E402

from kettle.db import PK  # noqa: E402
from kettle.db import Model  # noqa: E402
from kettle.db import Timestamps  # noqa: E402
from kettle.db import get_database  # noqa: E402
from kettle.forms import initial_from  # noqa: E402
from kettle.forms import model_form  # noqa: E402
from kettle.forms import populate  # noqa: E402


class Genre(enum.Enum):
    poetry = "Poetry"
    prose = "Prose"


class FormAuthor(Model):
    id: Mapped[PK]
    name: Mapped[str] = mapped_column(String(40))

    def __str__(self) -> str:
        return self.name


class FormBook(Timestamps, Model):
    id: Mapped[PK]
    title: Mapped[str] = mapped_column(String(120))
    summary: Mapped[str | None] = mapped_column(Text)
    pages: Mapped[int | None]
    price: Mapped[decimal.Decimal] = mapped_column(Numeric(8, 2))
    in_print: Mapped[bool] = mapped_column(default=True)
    genre: Mapped[Genre]
    published: Mapped[datetime.date | None]
    author_id: Mapped[int] = mapped_column(ForeignKey("form_author.id"))
    author: Mapped[FormAuthor] = relationship()


@pytest.fixture
def library(tmp_path):
    app = Kettle(env_file=None, DATABASE_URL=f"sqlite:///{tmp_path / 'lib.db'}")
    db = get_database(app)
    db.create_all()
    with db.session() as s:
        s.add_all([FormAuthor(id=1, name="Keats"), FormAuthor(id=2, name="Bashō")])
        s.commit()
    yield app
    db.dispose()


def test_a_model_form_follows_the_columns(library):
    BookForm = model_form(FormBook)
    assert list(BookForm._fields) == [
        "title",
        "summary",
        "pages",
        "price",
        "in_print",
        "genre",
        "published",
        "author_id",
    ]  # no primary key, no timestamps
    fields = BookForm._fields
    assert (
        isinstance(fields["title"], StringField) and fields["title"].max_length == 120
    )
    assert fields["title"].required and not fields["summary"].required
    assert isinstance(fields["summary"], TextField)
    assert isinstance(fields["pages"], IntegerField) and not fields["pages"].required
    assert isinstance(fields["price"], DecimalField) and fields["price"].places == 2
    assert isinstance(fields["in_print"], BooleanField)
    assert isinstance(fields["published"], DateField)
    with library.app_context():
        assert fields["genre"].choices == [("poetry", "Poetry"), ("prose", "Prose")]
        assert fields["author_id"].choices == [(1, "Keats"), (2, "Bashō")]
        assert fields["author_id"].label == "Author"
        html = str(BookForm()["author_id"])
        assert '<option value="2">Bashō</option>' in html


def test_a_model_form_starts_from_the_columns_scalar_defaults():
    class FormShelf(Model):
        __tablename__ = "form_shelf_defaults"
        id: Mapped[PK]
        slots: Mapped[int] = mapped_column(default=12)
        open: Mapped[bool] = mapped_column(default=True)
        note: Mapped[str | None] = mapped_column(String(20))

    ShelfForm = model_form(FormShelf)
    fresh = ShelfForm()
    assert 'value="12"' in str(fresh["slots"]) and "checked" in str(fresh["open"])
    left_empty = ShelfForm({"slots": "", "open": "on", "note": ""})
    assert left_empty.is_valid() and left_empty.data["slots"] == 12  # not NULL
    assert left_empty.data["note"] is None
    Model.metadata.remove(FormShelf.__table__)


def test_a_model_form_checks_and_saves(library):
    BookForm = model_form(FormBook, fields=["title", "price", "genre", "author"])
    assert list(BookForm._fields) == ["title", "price", "genre", "author_id"]
    with library.app_context():
        bad = BookForm(
            {"title": "x" * 121, "price": "1.234", "genre": "drama", "author_id": "9"}
        )
        assert not bad.is_valid()
        assert set(bad.errors) == {"title", "price", "genre", "author_id"}
        form = BookForm(
            {"title": "Odes", "price": "4.50", "genre": "poetry", "author_id": "1"}
        )
        assert form.is_valid(), form.errors
        db = get_database(library)
        with db.session() as s:
            assert form.data["genre"] is Genre.poetry
            book = populate(form, FormBook())
            s.add(book)
            s.commit()
            saved = s.get(FormBook, book.id)
            assert (saved.title, saved.price, saved.author.name) == (
                "Odes",
                decimal.Decimal("4.50"),
                "Keats",
            )
            editing = BookForm(initial=initial_from(saved, BookForm))
            assert 'value="Odes"' in str(editing["title"])
            assert '<option value="poetry" selected>' in str(editing["genre"])
    with pytest.raises(KeyError, match="no column 'nope'"):
        model_form(FormBook, fields=["nope"])
    limits = model_form(FormBook, fields=["pages", "price"])
    huge = limits({"pages": "9" * 25, "price": "1e30"})
    assert not huge.is_valid()
    assert huge.errors == {
        "pages": ["Enter a number of at most 2147483647."],
        "price": ["Enter a number of at most 999999.99."],
    }


class TagsForm(Form):
    tags = MultipleChoiceField(choices=[(1, "red"), (2, "green"), (3, "<blue>")])
    sizes = MultipleChoiceField(choices=[("s", "Small"), ("m", "Medium")], required=True)


def test_a_multiple_choice_field_reads_repeated_fields_and_json_lists():
    from kettle.formparsers import FormData

    form = TagsForm(FormData([("tags", "3"), ("tags", "1"), ("tags", "3"), ("sizes", "m")]))
    assert form.is_valid(), form.errors
    assert form.data == {"tags": [1, 3], "sizes": ["m"]}  # the choices' order, once each
    assert TagsForm({"tags": [2], "sizes": ["s", "m"]}).is_valid()  # JSON
    assert TagsForm({"tags": 2, "sizes": "s"}).is_valid()  # one JSON value
    empty = TagsForm({"tags": [], "sizes": []})
    assert not empty.is_valid() and empty.errors == {"sizes": ["Choose at least one."]}
    for bad in (["9"], [True], [{"x": 1}], ["1", "9"]):
        wrong = TagsForm({"tags": bad, "sizes": ["s"]})
        assert not wrong.is_valid() and wrong.errors["tags"] == ["Choose from the options given."]


def test_a_multiple_choice_field_renders_a_fieldset_of_checkboxes():
    shown = str(TagsForm(initial={"tags": [2]})["tags"])
    assert shown.startswith('<div class="field field-tags"><fieldset id="id_tags" class="choices">')
    assert "<legend>Tags</legend>" in shown and "<label" not in shown.split("<fieldset")[0]
    assert 'id="id_tags-1" name="tags" value="2" checked' in shown
    assert "&lt;blue&gt;" in shown and "<blue>" not in shown
    kept = TagsForm({"tags": ["1", "3"], "sizes": []})
    kept.is_valid()
    assert 'value="1" checked' in str(kept["tags"]) and 'value="2" checked' not in str(kept["tags"])
    assert 'aria-invalid="true"' in str(kept["sizes"]) and 'aria-describedby="id_sizes-error"' in str(kept["sizes"])
