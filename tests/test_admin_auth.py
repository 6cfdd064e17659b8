"""kettle.admin's users and groups (registered by ``Admin(app)``): adding a
user with a checked password, groups and permissions edited as checkboxes,
only superusers handing out rights, the "Set password" page, unique values and
database refusals shown on the form; on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import String
from sqlalchemy import UniqueConstraint
from sqlalchemy import select
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from kettle import Kettle
from kettle.admin import Admin
from kettle.admin import GroupAdmin
from kettle.admin import UserAdmin
from kettle.auth import Group
from kettle.auth import User
from kettle.auth import grant
from kettle.auth import hashers
from kettle.auth import issue_token
from kettle.db import Model
from kettle.db import get_database

hashers.set_test_parameters()
SECRET = "admin-auth-tests-secret-key-0123456789abcdefghijk"
BOTH_DBS = pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
GOOD = "a long passphrase of words"


class AdmSeat(Model):
    __tablename__ = "adm_seat"
    __table_args__ = (UniqueConstraint("row", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    row: Mapped[str] = mapped_column(String(2))
    number: Mapped[int]

    def __str__(self) -> str:
        return f"{self.row}{self.number}"


@pytest.fixture
def site(database_url):
    app = Kettle(SECRET_KEY=SECRET, DATABASE_URL=database_url.url_sync, RATELIMIT_ENABLED=False)
    Admin(app).register(AdmSeat)
    db = get_database(app)
    db.create_all()
    with db.session() as s:
        s.add(User(username="boss", password="boss password", is_staff=True, is_superuser=True))
        clerk = User(username="clerk", password="clerk password", is_staff=True)
        s.add(clerk)
        grant(s, clerk, "auth_user.view", "auth_user.change", "auth_user.add")
        s.add(User(username="ann", password=GOOD, email="ann@example.com"))
        s.add(Group(name="editors"))
        s.commit()
    yield app
    db.drop_all()
    db.dispose()


def log_in(client, name, password=None):
    done = client.post("/auth/login", data={"username": name, "password": password or f"{name} password"})
    assert done.status_code == 303, done.text
    return done


def user(app, name):
    with get_database(app).session() as db:
        found = db.scalars(select(User).filter_by(username=name)).one()
        found.permission_codes = sorted(p.codename for p in found.permissions)
        found.group_names = sorted(g.name for g in found.groups)
        return found


def new_user(**changes):
    data = {"username": "bea", "email": "bea@example.com", "is_active": "on", "password": GOOD, "confirm": GOOD}
    data.update(changes)
    return data


@BOTH_DBS
def test_users_and_groups_are_on_the_dashboard(site, make_client):
    client = make_client(site, follow_redirects=False)
    log_in(client, "boss")
    home = client.get("/admin/").text
    assert "Users and groups" in home and "/admin/auth_user/" in home and "/admin/auth_group/" in home
    listing = client.get("/admin/auth_user/?q=ANN").text
    assert "ann@example.com" in listing and "boss" not in listing.split("<tbody>")[1]
    page = client.get(f"/admin/auth_user/{user(site, 'ann').id}/").text
    assert "argon2" not in page and 'name="password"' not in page  # the hash is never shown
    assert "Set password" in page


@BOTH_DBS
def test_adding_a_user_checks_the_password_and_the_name(site, make_client):
    client = make_client(site, follow_redirects=False)
    log_in(client, "boss")
    form = client.get("/admin/auth_user/add").text
    assert 'name="password"' in form and 'name="confirm"' in form and 'autocomplete="new-password"' in form
    differ = client.post("/admin/auth_user/add", data=new_user(confirm="another passphrase"))
    assert differ.status_code == 200 and "The two passwords differ." in differ.text
    weak = client.post("/admin/auth_user/add", data=new_user(password="password", confirm="password"))
    assert weak.status_code == 200 and "too common" in weak.text
    like_name = client.post("/admin/auth_user/add", data=new_user(password="bea@example.com", confirm="bea@example.com"))
    assert "too similar" in like_name.text
    taken = client.post("/admin/auth_user/add", data=new_user(username="ann"))
    assert taken.status_code == 200 and "A User with this username exists already." in taken.text
    with get_database(site).session() as db:
        assert db.scalars(select(User).filter_by(username="bea")).first() is None
    assert client.post("/admin/auth_user/add", data=new_user()).status_code == 303
    bea = make_client(site, follow_redirects=False)
    log_in(bea, "bea", GOOD)
    history = client.get(f"/admin/auth_user/{user(site, 'bea').id}/history").text
    assert GOOD not in history


@BOTH_DBS
def test_groups_and_permissions_are_edited_as_checkboxes(site, make_client):
    client = make_client(site, follow_redirects=False)
    log_in(client, "boss")
    with get_database(site).session() as db:
        editors = db.scalars(select(Group.id).filter_by(name="editors")).one()
    ann = user(site, "ann")
    url = f"/admin/auth_user/{ann.id}/"
    page = client.get(url).text
    assert f'name="groups" value="{editors}"' in page
    assert 'name="permissions" value="adm_seat.change"' in page  # every code known
    data = {"username": "ann", "email": "ann@example.com", "is_active": "on", "groups": str(editors), "permissions": ["adm_seat.view", "adm_seat.change"]}
    assert client.post(url, data=data).status_code == 303
    saved = user(site, "ann")
    assert saved.group_names == ["editors"] and saved.permission_codes == ["adm_seat.change", "adm_seat.view"]
    assert "Changed groups, permissions." in client.get(f"{url}history").text
    shown = client.get(url).text
    assert re.search(r'value="adm_seat.change" checked', shown)
    bad = client.post(url, data={**data, "permissions": "nonsense.code"})
    assert bad.status_code == 200 and "Choose from the options given." in bad.text
    # a group's permissions reach its members
    group_url = f"/admin/auth_group/{editors}/"
    assert client.post(group_url, data={"name": "editors", "permissions": "adm_seat.delete"}).status_code == 303
    ann_client = make_client(site, follow_redirects=False)
    log_in(ann_client, "ann", GOOD)
    with get_database(site).session() as db:
        member = db.get(User, ann.id)
        assert member.has_perm("adm_seat.delete") and member.has_perm("adm_seat.view")


@BOTH_DBS
def test_only_a_superuser_hands_out_rights(site, make_client):
    client = make_client(site, follow_redirects=False)
    log_in(client, "clerk")  # may view, add and change users; not a superuser
    ann = user(site, "ann")
    url = f"/admin/auth_user/{ann.id}/"
    base = {"username": "ann", "email": "ann@example.com", "is_active": "on"}
    assert client.post(url, data={**base, "email": "ann@example.org"}).status_code == 303
    assert user(site, "ann").email == "ann@example.org"
    for sneaky in ({"is_superuser": "on"}, {"permissions": "auth_user.delete"}):
        refused = client.post(url, data={**base, **sneaky})
        assert refused.status_code == 200 and "Only a superuser may change this." in refused.text
    made = client.post("/admin/auth_user/add", data=new_user(is_superuser="on"))
    assert "Only a superuser may change this." in made.text
    after = user(site, "ann")
    assert not after.is_superuser and after.permission_codes == []
    with get_database(site).session() as db:
        assert db.scalars(select(User).filter_by(username="bea")).first() is None
    assert client.get("/admin/auth_group/").status_code == 403  # no auth_group.view


@BOTH_DBS
def test_the_set_password_page_ends_the_users_sessions_and_tokens(site, make_client):
    with get_database(site).session() as db:
        ann_row = db.scalars(select(User).filter_by(username="ann")).one()
        token = issue_token(db, ann_row)
        db.commit()
    ann = make_client(site, follow_redirects=False)
    log_in(ann, "ann", GOOD)
    assert ann.get("/admin/", headers={"accept": "text/html"}).status_code == 403  # logged in, not staff
    client = make_client(site, follow_redirects=False)
    log_in(client, "boss")
    url = f"/admin/auth_user/{user(site, 'ann').id}/password"
    assert 'name="confirm"' in client.get(url).text
    weak = client.post(url, data={"password": "12345678901", "confirm": "12345678901"})
    assert weak.status_code == 200 and "entirely numeric" in weak.text
    assert client.post(url, data={"password": "new long passphrase", "confirm": "new long passphrase"}).status_code == 303
    assert ann.get("/admin/", headers={"accept": "text/html"}).status_code == 303  # logged out: to the login page
    assert client.get(f"/admin/auth_user/{user(site, 'ann').id}/history").text.count("Changed password.") == 1
    fresh = make_client(site, follow_redirects=False)
    assert fresh.post("/auth/login", data={"username": "ann", "password": GOOD}).status_code == 200  # refused
    log_in(fresh, "ann", "new long passphrase")
    api = make_client(site, follow_redirects=False)
    assert api.get("/admin/", headers={"authorization": f"Bearer {token}"}).status_code == 401
    # one's own password: stays logged in
    own = f"/admin/auth_user/{user(site, 'boss').id}/password"
    client.post(own, data={"password": "boss new passphrase", "confirm": "boss new passphrase"})
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/adm_seat/1/password").status_code == 404


@BOTH_DBS
def test_a_value_the_database_refuses_is_shown_on_the_form(site, make_client):
    client = make_client(site, follow_redirects=False)
    log_in(client, "boss")
    assert client.post("/admin/adm_seat/add", data={"row": "A", "number": "1"}).status_code == 303
    twice = client.post("/admin/adm_seat/add", data={"row": "A", "number": "1"})  # (row, number) unique
    assert twice.status_code == 200 and "could not be saved" in twice.text
    assert 'value="A"' in twice.text  # what was typed is kept
    with get_database(site).session() as db:
        assert len(db.scalars(select(AdmSeat)).all()) == 1
        from kettle.admin import LogEntry

        assert len(db.scalars(select(LogEntry).filter_by(model="adm_seat")).all()) == 1


def test_the_auth_models_can_be_left_out_or_registered_again(tmp_path):
    bare = Admin(Kettle(SECRET_KEY=SECRET, DATABASE_URL=f"sqlite:///{tmp_path / 'a.db'}"), auth_models=False)
    assert "auth_user" not in bare.registry and "auth_group" not in bare.registry
    admin = Admin(Kettle(SECRET_KEY=SECRET, DATABASE_URL=f"sqlite:///{tmp_path / 'b.db'}"))
    assert isinstance(admin.registry["auth_user"], UserAdmin)
    assert isinstance(admin.registry["auth_group"], GroupAdmin)

    class StaffOnly(UserAdmin):
        list_filter = ["is_active"]

    admin.unregister(User)
    admin.register(User, StaffOnly)
    assert admin.registry["auth_user"].list_filter == ["is_active"]
    from kettle.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="is not in the admin"):
        admin.unregister(AdmSeat)
