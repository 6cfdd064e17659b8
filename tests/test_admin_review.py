"""kettle.admin against what a review found: superusers' records kept to
superusers, relations named in readonly or inline fields, blank inline rows
with enum defaults, inline keys spelt twice, choices read once for all inline
rows, permissions no model declares kept, JSON bodies, huge keys, unique
values moved between children; on SQLite and PostgreSQL."""

from __future__ import annotations

import enum
import re

import pytest
from sqlalchemy import Enum as SAEnum
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
from kettle.auth import Permission
from kettle.auth import User
from kettle.auth import grant
from kettle.auth import hashers
from kettle.db import Model
from kettle.db import get_database

hashers.set_test_parameters()
SECRET = "review-tests-secret-key-0123456789abcdefghijklmnop"
BOTH_DBS = pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)


class Status(enum.Enum):
    open = "Open"
    done = "Done"


class RvOwner(Model):
    __tablename__ = "rv_owner"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))

    def __str__(self) -> str:
        return self.name


class RvTag(Model):
    __tablename__ = "rv_tag"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))

    def __str__(self) -> str:
        return self.name


class RvTask(Model):
    __tablename__ = "rv_task"
    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("rv_owner.id"))
    owner: Mapped[RvOwner] = relationship()
    title: Mapped[str] = mapped_column(String(100))
    status: Mapped[Status] = mapped_column(SAEnum(Status), default=Status.open)
    tag_id: Mapped[int | None] = mapped_column(ForeignKey("rv_tag.id"))
    tag: Mapped[RvTag | None] = relationship()

    def __str__(self) -> str:
        return self.title


class RvNote(Model):  # a child without an enum, for the key tests
    __tablename__ = "rv_note"
    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("rv_owner.id"))
    owner: Mapped[RvOwner] = relationship()
    text: Mapped[str] = mapped_column(String(100))
    tag_id: Mapped[int | None] = mapped_column(ForeignKey("rv_tag.id"))
    tag: Mapped[RvTag | None] = relationship()

    def __str__(self) -> str:
        return self.text


class TaskInline(Inline):
    model = RvTask
    extra = 3


class NoteInline(Inline):
    model = RvNote
    extra = 2
    max_num = 2


class NoteInlineWithParent(Inline):
    model = RvNote
    fields = ["owner", "text"]  # the relation's name, as list_display etc. accept


def make_site(database_url, **registrations):
    app = Kettle(SECRET_KEY=SECRET, DATABASE_URL=database_url.url_sync, RATELIMIT_ENABLED=False)
    admin = Admin(app)
    for model, options in registrations.items():
        admin.register(globals()[model], **options)
    db = get_database(app)
    db.create_all()
    with db.session() as s:
        s.add(User(username="boss", password="boss password", is_staff=True, is_superuser=True))
        clerk = User(username="clerk", password="clerk password", is_staff=True)
        s.add(clerk)
        s.add_all([RvOwner(name="alice"), RvOwner(name="bob"), RvTag(name="t1"), RvTag(name="t2")])
        s.commit()
    return app


def log_in(client, name, password=None):
    done = client.post("/auth/login", data={"username": name, "password": password or f"{name} password"})
    assert done.status_code == 303, done.text


def grant_to(app, name, *codes):
    with get_database(app).session() as db:
        grant(db, db.scalars(select(User).filter_by(username=name)).one(), *codes)
        db.commit()


def uid(app, name):
    with get_database(app).session() as db:
        return db.scalars(select(User.id).filter_by(username=name)).one()


# 1. a staff user with auth_user.change takes over a superuser ---------------------------


@BOTH_DBS
def test_clerk_with_user_change_cannot_take_over_a_superuser(database_url, make_client):
    site = make_site(database_url)
    grant_to(site, "clerk", "auth_user.change")
    client = make_client(site, follow_redirects=False)
    log_in(client, "clerk")
    boss = uid(site, "boss")
    new = "a long passphrase of words"
    done = client.post(f"/admin/auth_user/{boss}/password", data={"password": new, "confirm": new})
    # EXPECTED: refused (only a superuser may change a superuser's credentials)
    other = make_client(site, follow_redirects=False)
    took_over = other.post("/auth/login", data={"username": "boss", "password": new}).status_code == 303
    assert done.status_code == 403 and not took_over, (done.status_code, took_over)


# 2. readonly_fields / inline fields naming a relation ------------------------------------


@BOTH_DBS
def test_readonly_relation_is_not_editable(database_url, make_client):
    site = make_site(database_url, RvNote={"readonly_fields": ["owner"]})
    with get_database(site).session() as db:
        alice, bob = (db.scalars(select(RvOwner.id).filter_by(name=n)).one() for n in ("alice", "bob"))
        db.add(RvNote(owner_id=alice, text="n"))
        db.commit()
        note = db.scalars(select(RvNote.id)).one()
    client = make_client(site, follow_redirects=False)
    log_in(client, "boss")
    page = client.get(f"/admin/rv_note/{note}/").text
    client.post(f"/admin/rv_note/{note}/", data={"text": "n", "owner_id": str(bob)})
    with get_database(site).session() as db:
        owner = db.get(RvNote, note).owner_id
    assert 'name="owner_id"' not in page and owner == alice, ("owner_id editable", owner)


@BOTH_DBS
def test_inline_cannot_move_a_child_to_another_parent(database_url, make_client):
    site = make_site(database_url, RvOwner={"inlines": [NoteInlineWithParent]})
    with get_database(site).session() as db:
        alice, bob = (db.scalars(select(RvOwner.id).filter_by(name=n)).one() for n in ("alice", "bob"))
        db.add(RvNote(owner_id=alice, text="mine"))
        db.commit()
        note = db.scalars(select(RvNote.id)).one()
    client = make_client(site, follow_redirects=False)
    log_in(client, "boss")
    page = client.get(f"/admin/rv_owner/{alice}/").text
    client.post(
        f"/admin/rv_owner/{alice}/",
        data={"name": "alice", "rv_note-rows": "1", "rv_note-0-_key": str(note),
              "rv_note-0-text": "mine", "rv_note-0-owner_id": str(bob)},
    )
    with get_database(site).session() as db:
        owner = db.get(RvNote, note).owner_id
    assert "rv_note-0-owner_id" not in page and owner == alice, ("child moved to", owner)


# 3. inline extra rows of a child with an enum column default ----------------------------


@BOTH_DBS
def test_untouched_extra_rows_with_an_enum_default_are_blank(database_url, make_client):
    site = make_site(database_url, RvOwner={"inlines": [TaskInline]})
    with get_database(site).session() as db:
        alice = db.scalars(select(RvOwner.id).filter_by(name="alice")).one()
    client = make_client(site, follow_redirects=False)
    log_in(client, "boss")
    page = client.get(f"/admin/rv_owner/{alice}/").text
    # post back exactly what the browser would: every input's shown value
    data = {"name": "alice", "rv_task-rows": "3"}
    for n in range(3):
        data[f"rv_task-{n}-title"] = ""
        data[f"rv_task-{n}-tag_id"] = ""
        sel = re.search(rf'name="rv_task-{n}-status".*?</select>', page, re.S).group(0)
        data[f"rv_task-{n}-status"] = re.search(r'<option value="([^"]*)" selected', sel).group(1)
    done = client.post(f"/admin/rv_owner/{alice}/", data=data)
    assert done.status_code == 303, re.findall(r'<ul class="errors"[^>]*>(.*?)</ul>', done.text)


# 4. inline keys: JSON / malformed / duplicates -------------------------------------------


@BOTH_DBS
def test_inline_key_given_twice_in_another_spelling_is_refused(database_url, make_client):
    site = make_site(database_url, RvOwner={"inlines": [NoteInline]})
    with get_database(site).session() as db:
        alice = db.scalars(select(RvOwner.id).filter_by(name="alice")).one()
        db.add_all([RvNote(owner_id=alice, text="a"), RvNote(owner_id=alice, text="b")])
        db.commit()
        a, b = db.scalars(select(RvNote.id).order_by(RvNote.id)).all()
    client = make_client(site, follow_redirects=False)
    log_in(client, "boss")
    # max_num is 2: delete "a" twice (as "a" and "0a"), add two new ones -> 3 children
    done = client.post(
        f"/admin/rv_owner/{alice}/",
        data={"name": "alice", "rv_note-rows": "4",
              "rv_note-0-_key": str(a), "rv_note-0-text": "a", "rv_note-0-_delete": "on",
              "rv_note-1-_key": f"0{a}", "rv_note-1-text": "a", "rv_note-1-_delete": "on",
              "rv_note-2-text": "new1", "rv_note-3-text": "new2"},
    )
    with get_database(site).session() as db:
        count = len(db.scalars(select(RvNote).filter_by(owner_id=alice)).all())
    assert done.status_code == 400 and count <= 2, (done.status_code, count)


# 5. N+1: a foreign key column in an inline reads the related table once per row ---------


@BOTH_DBS
def test_inline_page_reads_a_related_table_once(database_url, make_client):
    site = make_site(database_url, RvOwner={"inlines": [TaskInline]})
    with get_database(site).session() as db:
        alice = db.scalars(select(RvOwner.id).filter_by(name="alice")).one()
        db.add_all([RvTask(owner_id=alice, title=f"t{n}") for n in range(20)])
        db.commit()
    client = make_client(site, follow_redirects=False)
    log_in(client, "boss")
    seen = []
    engine = get_database(site).engine()

    def count(conn, cursor, statement, *args):
        if "FROM rv_tag" in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        assert client.get(f"/admin/rv_owner/{alice}/").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(seen) <= 2, f"{len(seen)} queries of rv_tag for 23 rows"


# 6. a permission not (or no longer) declared is dropped by any save ----------------------


@BOTH_DBS
def test_saving_a_user_keeps_permissions_the_form_does_not_list(database_url, make_client):
    site = make_site(database_url)
    with get_database(site).session() as db:
        clerk = db.scalars(select(User).filter_by(username="clerk")).one()
        clerk.permissions.append(Permission(codename="legacy.export", name="old"))
        db.commit()
        key = clerk.id
    client = make_client(site, follow_redirects=False)
    log_in(client, "boss")
    page = client.get(f"/admin/auth_user/{key}/").text
    ticked = re.findall(r'name="permissions" value="([^"]+)" checked', page)
    data = {"username": "clerk", "email": "", "is_active": "on", "is_staff": "on", "permissions": ticked}
    assert client.post(f"/admin/auth_user/{key}/", data=data).status_code == 303
    with get_database(site).session() as db:
        codes = [p.codename for p in db.get(User, key).permissions]
    assert codes == ["legacy.export"], codes


# 7. JSON bodies ---------------------------------------------------------------------------


@BOTH_DBS
def test_json_body_on_a_model_with_an_inline(database_url, make_client):
    site = make_site(database_url, RvOwner={"inlines": [NoteInline]}, RvTag={})
    client = make_client(site, follow_redirects=False)
    log_in(client, "boss")
    plain = client.post("/admin/rv_tag/add", json={"name": "t3"})
    assert plain.status_code == 303, (plain.status_code, plain.text[:200])


@BOTH_DBS
def test_huge_autocomplete_key_is_a_form_error(database_url, make_client):
    site = make_site(database_url, RvOwner={"search_fields": ["name"]},
                     RvNote={"autocomplete_fields": ["owner"]})
    site.extensions["admin"].check()
    client = make_client(site, follow_redirects=False)
    log_in(client, "boss")
    done = client.post("/admin/rv_note/add", data={"text": "x", "owner_id": "9" * 30})
    assert done.status_code == 200, done.status_code


class RvSlot(Model):
    __tablename__ = "rv_slot"
    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("rv_owner.id"))
    owner: Mapped[RvOwner] = relationship()
    code: Mapped[str] = mapped_column(String(20), unique=True)

    def __str__(self) -> str:
        return self.code


class SlotInline(Inline):
    model = RvSlot
    extra = 1


@BOTH_DBS
def test_deleting_a_child_and_adding_one_with_its_unique_value(database_url, make_client):
    site = make_site(database_url, RvOwner={"inlines": [SlotInline]})
    with get_database(site).session() as db:
        alice = db.scalars(select(RvOwner.id).filter_by(name="alice")).one()
        db.add(RvSlot(owner_id=alice, code="A1"))
        db.commit()
        slot = db.scalars(select(RvSlot.id)).one()
    client = make_client(site, follow_redirects=False)
    log_in(client, "boss")
    done = client.post(
        f"/admin/rv_owner/{alice}/",
        data={"name": "alice 2", "rv_slot-rows": "2",
              "rv_slot-0-_key": str(slot), "rv_slot-0-code": "A1", "rv_slot-0-_delete": "on",
              "rv_slot-1-code": "A1"},
    )
    with get_database(site).session() as db:
        name = db.get(RvOwner, alice).name
        codes = db.scalars(select(RvSlot.code)).all()
    assert done.status_code == 303, done.status_code
    assert (name, codes) == ("alice 2", ["A1"])


@BOTH_DBS
def test_swapping_unique_values_of_two_children(database_url, make_client):
    site = make_site(database_url, RvOwner={"inlines": [SlotInline]})
    with get_database(site).session() as db:
        alice = db.scalars(select(RvOwner.id).filter_by(name="alice")).one()
        db.add_all([RvSlot(owner_id=alice, code="A1"), RvSlot(owner_id=alice, code="A2")])
        db.commit()
        s1, s2 = db.scalars(select(RvSlot.id).order_by(RvSlot.id)).all()
    client = make_client(site, follow_redirects=False)
    log_in(client, "boss")
    done = client.post(
        f"/admin/rv_owner/{alice}/",
        data={"name": "alice", "rv_slot-rows": "2",
              "rv_slot-0-_key": str(s1), "rv_slot-0-code": "A2",
              "rv_slot-1-_key": str(s2), "rv_slot-1-code": "A1"},
    )
    # SQLAlchemy writes one update after the other: the database refuses, the
    # form says so, and nothing changes
    assert done.status_code == 200 and "could not be saved" in done.text
    with get_database(site).session() as db:
        assert db.scalars(select(RvSlot.code).order_by(RvSlot.id)).all() == ["A1", "A2"]


def test_users_are_not_edited_inline(tmp_path):
    from kettle.exceptions import ImproperlyConfigured

    class RvMemberInline(Inline):
        model = User
        fk_name = "nothing"

    admin = Admin(Kettle(SECRET_KEY=SECRET, DATABASE_URL=f"sqlite:///{tmp_path / 'u.db'}"))
    with pytest.raises(ImproperlyConfigured, match="users are edited on their own pages"):
        admin.register(RvOwner, inlines=[RvMemberInline])


@BOTH_DBS
def test_only_a_superuser_changes_or_deletes_a_superuser(database_url, make_client):
    site = make_site(database_url)
    grant_to(site, "clerk", "auth_user.change", "auth_user.delete")
    client = make_client(site, follow_redirects=False)
    log_in(client, "clerk")
    boss = uid(site, "boss")
    page = client.get(f"/admin/auth_user/{boss}/").text
    assert ">Save<" not in page and "Set password" not in page
    edit = client.post(f"/admin/auth_user/{boss}/", data={"username": "boss", "email": "me@evil.example", "is_active": "on"})
    assert edit.status_code == 403
    assert client.get(f"/admin/auth_user/{boss}/delete").status_code == 403
    bulk = client.post("/admin/auth_user/action", data={"action": "delete_selected", "ids": [str(boss)], "confirm": "yes"})
    assert bulk.status_code == 403
    with get_database(site).session() as db:
        kept = db.get(User, boss)
        assert kept is not None and kept.email == ""
    # the clerk still manages users who are not superusers
    clerk = uid(site, "clerk")
    assert client.post(f"/admin/auth_user/{clerk}/", data={"username": "clerk", "email": "c@example.com", "is_active": "on", "is_staff": "on", "permissions": ["auth_user.change", "auth_user.delete"]}).status_code == 303


@BOTH_DBS
def test_a_delete_the_database_refuses_is_a_message(database_url, make_client):
    site = make_site(database_url, RvOwner={})
    with get_database(site).session() as db:
        alice = db.scalars(select(RvOwner).filter_by(name="alice")).one()
        db.add(RvNote(owner=alice, text="still here"))
        db.commit()
        key = alice.id
    client = make_client(site, follow_redirects=False)
    log_in(client, "boss")
    done = client.post(f"/admin/rv_owner/{key}/delete")
    assert done.status_code == 303 and done.headers["location"] == f"/admin/rv_owner/{key}/"
    assert "Nothing was deleted: other records still refer to" in client.get(done.headers["location"]).text
    bulk = client.post("/admin/rv_owner/action", data={"action": "delete_selected", "ids": [str(key)], "confirm": "yes"})
    assert bulk.status_code == 303
    with get_database(site).session() as db:
        assert db.get(RvOwner, key) is not None
        from kettle.admin import LogEntry

        assert db.scalars(select(LogEntry).filter_by(model="rv_owner")).all() == []

