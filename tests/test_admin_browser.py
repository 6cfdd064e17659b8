"""The admin in real headless Chromium (Debian's, driven by Playwright) against
an app served by ``kettle serve`` on loopback: a staff user logs in, creates a
record with a relation, edits it, searches, filters, bulk-deletes with the
confirmation; a user who is not staff is refused. Screenshots of the list and
edit pages are taken at desktop and phone widths."""

from __future__ import annotations

import os
import shutil

import pytest

from served import serve

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

APP = '''
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kettle import Kettle
from kettle.admin import Admin, ModelAdmin
from kettle.auth import User
from kettle.db import Model, get_database

app = Kettle(DATABASE_URL="sqlite:///{db}", SECRET_KEY="browser-admin-key-0123456789abcdefghij")
admin = Admin(app)


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


class VolumeAdmin(ModelAdmin):
    list_display = ["title", "rack", "lent"]
    search_fields = ["title"]
    list_filter = ["lent", "rack"]
    ordering = ["title"]


admin.register(Rack, search_fields=["name"])
admin.register(Volume, VolumeAdmin)


@app.on_startup
def data():
    db = get_database(app)
    db.create_all()
    with db.session() as s:
        s.add(User(username="chief", password="chief's long password", is_staff=True, is_superuser=True))
        s.add(User(username="visitor", password="visitor's long password"))
        poetry, prose = Rack(name="Poetry"), Rack(name="Prose")
        s.add_all([poetry, prose])
        for n in range(3):
            s.add(Volume(title=f"Old volume {{n}}", rack=prose, lent=n == 1))
        s.commit()
'''


@pytest.fixture
def served(tmp_path):
    (tmp_path / "adminapp.py").write_text(APP.format(db=tmp_path / "admin.db"))
    with serve(tmp_path, "adminapp:app", tmp_path / "server.log") as url:
        yield url


def log_in(page, url, name):
    page.goto(url + "/auth/login?next=/admin/")
    page.get_by_label("User name or email").fill(name)
    page.get_by_label("Password").fill(f"{name}'s long password")
    page.get_by_role("button", name="Log in").click()


def test_a_staff_user_manages_records_in_chromium(served, tmp_path):
    from playwright.sync_api import expect
    from playwright.sync_api import sync_playwright

    assert os.path.exists(CHROMIUM), "Debian's chromium is not installed"
    shots = tmp_path / "shots"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            missing: list[str] = []
            page.on(
                "response",
                lambda r: missing.append(r.url) if r.status == 404 else None,
            )
            log_in(page, served, "chief")
            page.goto(served + "/admin/")
            expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()

            # create a record with a relation
            page.get_by_role("link", name="Add Volume").click()
            page.get_by_label("Title").fill("Leaves of Grass")
            page.get_by_label("Rack").select_option(label="Poetry")
            page.get_by_role("button", name="Save").click()
            expect(page.get_by_role("status")).to_contain_text("Added Volume")
            row = page.get_by_role("row").filter(has_text="Leaves of Grass")
            expect(row).to_contain_text("Poetry")
            page.screenshot(path=str(shots / "list-desktop.png"), full_page=True)

            # edit it
            row.get_by_role("link", name="Leaves of Grass").click()
            page.screenshot(path=str(shots / "edit-desktop.png"), full_page=True)
            page.get_by_label("Title").fill("Leaves of Grass (1855)")
            page.get_by_role("button", name="Save").click()
            expect(page.get_by_role("status")).to_contain_text("Saved Volume")

            # search, then filter
            page.get_by_label("Search").fill("1855")
            page.get_by_role("button", name="Apply").click()
            expect(page.get_by_role("table")).to_contain_text("Leaves of Grass (1855)")
            expect(page.get_by_role("table")).not_to_contain_text("Old volume")
            page.get_by_label("Search").fill("")
            page.get_by_label("Lent").select_option(label="Yes")
            page.get_by_role("button", name="Apply").click()
            expect(page.get_by_role("table")).to_contain_text("Old volume 1")
            expect(page.get_by_role("table")).not_to_contain_text("Old volume 0")

            # bulk delete, with its confirmation
            page.goto(served + "/admin/volume/")
            page.get_by_label("Select Old volume 0").check()
            page.get_by_label("Select Old volume 2").check()
            page.get_by_label("Action").select_option(label="Delete selected")
            page.get_by_role("button", name="Run").click()
            expect(page.get_by_role("heading")).to_contain_text("Delete 2 Volume records?")
            page.get_by_role("button", name="Yes, delete").click()
            expect(page.get_by_role("status")).to_contain_text("Deleted 2 Volume record(s)")
            table = page.get_by_role("table")
            expect(table).not_to_contain_text("Old volume 0")
            expect(table).to_contain_text("Old volume 1")

            # the history of the record
            page.get_by_role("link", name="Leaves of Grass (1855)").click()
            page.get_by_role("link", name="History").click()
            expect(page.get_by_role("table")).to_contain_text("Changed title.")

            # a phone
            phone = browser.new_page(viewport={"width": 390, "height": 844})
            log_in(phone, served, "chief")
            phone.goto(served + "/admin/volume/")
            phone.screenshot(path=str(shots / "list-phone.png"), full_page=True)
            phone.get_by_role("link", name="Leaves of Grass (1855)").click()
            phone.screenshot(path=str(shots / "edit-phone.png"), full_page=True)
            width = phone.evaluate("document.documentElement.scrollWidth")
            assert width <= 390  # nothing wider than the phone

            # not staff: refused
            other = browser.new_page()
            log_in(other, served, "visitor")
            response = other.goto(served + "/admin/")
            assert response is not None and response.status == 403
            assert missing == []
            assert errors == []  # no console errors (CSP included)
        finally:
            browser.close()
    for name in ("list-desktop", "edit-desktop", "list-phone", "edit-phone"):
        assert (shots / f"{name}.png").stat().st_size > 5000
    target = os.environ.get("KETTLE_ADMIN_SCREENSHOTS")
    if target:  # scripts/admin-screenshots: the docs' pictures
        for png in shots.iterdir():
            shutil.copy(png, os.path.join(target, f"admin-{png.name}"))
