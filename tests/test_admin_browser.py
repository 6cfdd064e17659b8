"""The admin in real headless Chromium (Debian's, driven by Playwright) against
an app served by ``kettle serve`` on loopback: a staff user logs in, creates a
record with a relation, edits it, searches, filters, bulk-deletes with the
confirmation; a user who is not staff is refused. Screenshots of the list and
edit pages are taken at desktop and phone widths."""

from __future__ import annotations

import os
import re
import shutil

import pytest

from served import serve

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

APP = '''
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kettle import Kettle
from kettle.admin import Admin, Inline, ModelAdmin
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


class Shelfmark(Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(50))
    rack_id: Mapped[int] = mapped_column(ForeignKey("rack.id"))
    rack: Mapped[Rack] = relationship()

    def __str__(self):
        return self.code


class VolumeRow(Inline):
    model = Volume
    fields = ["title", "lent"]
    extra = 1


admin.register(Rack, search_fields=["name"], inlines=[VolumeRow])
admin.register(Volume, VolumeAdmin)
admin.register(Shelfmark, list_display=["code", "rack"], autocomplete_fields=["rack"])


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


# -- the look and feel: themes, htmx, "select all", the keyboard -----------------------


@pytest.fixture
def chromium():
    from playwright.sync_api import sync_playwright

    assert os.path.exists(CHROMIUM), "Debian's chromium is not installed"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield browser
        finally:
            browser.close()


class Watched:
    """A page, with the console errors and 404s it met (none are expected:
    the CSP refuses inline scripts and styles, and says so in the console)."""

    def __init__(self, browser, **options):
        self.page = browser.new_page(viewport={"width": 1280, "height": 800}, **options)
        self.errors: list[str] = []
        self.missing: list[str] = []
        self.page.on(
            "console",
            lambda m: self.errors.append(m.text) if m.type == "error" else None,
        )
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on(
            "response",
            lambda r: self.missing.append(r.url) if r.status == 404 else None,
        )

    def check(self):
        assert self.missing == []
        assert self.errors == []  # no console errors (CSP included)


def background(page):
    return page.evaluate("getComputedStyle(document.body).backgroundColor")


LIGHT_BG, DARK_BG = "rgb(246, 247, 249)", "rgb(20, 23, 29)"


def test_the_theme_is_switched_without_javascript_and_kept(served, chromium):
    from playwright.sync_api import expect

    for javascript in (True, False):
        watched = Watched(
            chromium, color_scheme="light", java_script_enabled=javascript
        )
        page = watched.page
        log_in(page, served, "chief")
        page.goto(served + "/admin/volume/?q=volume")
        assert background(page) == LIGHT_BG  # auto: the system's (light) theme
        expect(page.get_by_role("button", name="Auto")).to_have_attribute(
            "aria-pressed", "true"
        )
        theme = page.get_by_role("group", name="Theme")
        theme.get_by_role("button", name="Dark").click()
        page.wait_for_url("**/admin/volume/?q=volume")  # back where it was
        expect(page.locator("html")).to_have_attribute("data-theme", "dark")
        assert background(page) == DARK_BG
        expect(page.get_by_role("button", name="Dark")).to_have_attribute(
            "aria-pressed", "true"
        )
        page.reload()
        assert background(page) == DARK_BG  # kept, in a cookie
        target = os.environ.get("KETTLE_ADMIN_SCREENSHOTS")
        if target and javascript:  # scripts/admin-screenshots
            page.screenshot(path=os.path.join(target, "admin-list-dark.png"))
        page.goto(served + "/admin/")
        assert background(page) == DARK_BG  # on every page of the admin
        page.emulate_media(color_scheme="dark")
        page.get_by_role("button", name="Light").click()
        expect(page.locator("html")).to_have_attribute("data-theme", "light")
        assert background(page) == LIGHT_BG  # chosen over the system's dark
        page.get_by_role("button", name="Auto").click()
        expect(page.locator("html")).to_have_attribute("data-theme", "auto")
        assert background(page) == DARK_BG  # the system's again
        watched.check()
        page.close()


def test_the_search_box_updates_the_results_as_the_user_types(served, chromium):
    from playwright.sync_api import expect

    watched = Watched(chromium)
    page = watched.page
    log_in(page, served, "chief")
    page.goto(served + "/admin/volume/")
    table = page.get_by_role("table")
    expect(table).to_contain_text("Old volume 0")
    page.evaluate("window.notReloaded = true")
    loads: list[str] = []
    page.on("load", lambda: loads.append(page.url))

    page.get_by_label("Search").press_sequentially("volume 2", delay=40)
    expect(table).not_to_contain_text("Old volume 0")
    expect(table).to_contain_text("Old volume 2")
    expect(page.locator("caption")).to_have_text("1 Volume record")
    expect(page.locator("#results-news")).to_have_text("1 Volume record")  # read out
    expect(page).to_have_url(re.compile(r"/admin/volume/\?(.*&)?q=volume(\+|%20)2"))
    expect(page.get_by_label("Search")).to_be_focused()  # still typing
    assert page.evaluate("window.notReloaded") is True and loads == []

    # a filter, then a column header: swapped in too, the search kept
    page.get_by_label("Search").fill("")
    page.get_by_label("Search").press_sequentially("volume", delay=20)
    expect(page.locator("caption")).to_have_text("3 Volume records")
    page.get_by_label("Lent").select_option(label="Yes")
    expect(page.locator("caption")).to_have_text("1 Volume record")
    expect(table).to_contain_text("Old volume 1")
    page.get_by_label("Lent").select_option(label="All")
    expect(page.locator("caption")).to_have_text("3 Volume records")
    title = page.get_by_role("columnheader", name="Title")
    page.get_by_role("link", name="Title").click()
    expect(title).to_have_attribute("aria-sort", "ascending")
    expect(page).to_have_url(re.compile(r"q=volume&o=title$"))
    page.get_by_role("link", name="Title").click()  # again: the other way round
    expect(title).to_have_attribute("aria-sort", "descending")
    expect(page).to_have_url(re.compile(r"q=volume&o=-title$"))
    expect(page.get_by_role("link", name="Title")).to_be_focused()  # kept by its id
    names = page.locator("tbody tr td:nth-child(2)").all_inner_texts()
    assert names == ["Old volume 2", "Old volume 1", "Old volume 0"]
    assert page.evaluate("window.notReloaded") is True and loads == []

    # Back: the previous results, from the server (htmx keeps no copy)
    page.go_back()
    expect(page).to_have_url(re.compile(r"q=volume&o=title$"))
    expect(title).to_have_attribute("aria-sort", "ascending")
    page.go_forward()
    expect(title).to_have_attribute("aria-sort", "descending")

    # the bulk action form still works on the swapped-in rows
    page.get_by_label("Select Old volume 2").check()
    page.get_by_label("Action").select_option(label="Delete selected")
    page.get_by_role("button", name="Run").click()
    expect(page.get_by_role("heading")).to_contain_text("Delete 1 Volume record?")
    page.go_back()
    expect(page.get_by_role("table")).to_contain_text("Old volume 2")
    watched.check()


def test_select_all_checks_every_row(served, chromium):
    from playwright.sync_api import expect

    watched = Watched(chromium)
    page = watched.page
    log_in(page, served, "chief")
    page.goto(served + "/admin/volume/")
    everything = page.get_by_label("Select all rows on this page")
    rows = page.locator('tbody input[name="ids"]')
    expect(rows).to_have_count(3)
    everything.check()
    for n in range(3):
        expect(rows.nth(n)).to_be_checked()
    rows.nth(1).uncheck()
    expect(everything).not_to_be_checked()
    assert everything.evaluate("box => box.indeterminate") is True
    rows.nth(1).check()
    expect(everything).to_be_checked()
    everything.uncheck()
    for n in range(3):
        expect(rows.nth(n)).not_to_be_checked()

    # after htmx swapped the rows in, it is there and works (delegation)
    page.get_by_label("Search").press_sequentially("volume", delay=20)
    page.get_by_label("Lent").select_option(label="No")
    expect(page.locator("caption")).to_have_text("2 Volume records")
    page.get_by_label("Select all rows on this page").check()
    expect(page.locator('tbody input[name="ids"]:checked')).to_have_count(2)
    watched.check()

    # without JavaScript the box is not shown: rows are ticked one by one
    plain = Watched(chromium, java_script_enabled=False)
    log_in(plain.page, served, "chief")
    plain.page.goto(served + "/admin/volume/")
    expect(plain.page.locator("input.select-all")).to_be_hidden()
    plain.page.get_by_label("Search").fill("volume 1")
    plain.page.get_by_role("button", name="Apply").click()
    expect(plain.page).to_have_url(re.compile(r"q=volume\+1"))
    expect(plain.page.locator("caption")).to_have_text("1 Volume record")
    plain.check()


def test_the_admin_is_used_with_the_keyboard(served, chromium):
    from playwright.sync_api import expect

    watched = Watched(chromium)
    page = watched.page
    log_in(page, served, "chief")
    page.goto(served + "/admin/volume/")

    def focused(attribute="outerHTML"):
        return page.evaluate(f"document.activeElement.{attribute}")

    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to the content")
    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert box is not None and box["x"] >= 0 and box["y"] >= 0  # shown when focused
    outline = "getComputedStyle(document.activeElement).outlineStyle"
    assert page.evaluate(outline) == "solid"
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    expect(page).to_have_url(re.compile("#main$"))

    # Tab goes through the page's controls, each with a visible focus ring
    seen = []
    for _ in range(12):
        page.keyboard.press("Tab")
        seen.append(focused("id") or focused("textContent").strip())
        assert page.evaluate(outline) == "solid", focused()
        if focused("id") == "q":
            break
    assert seen[-1] == "q", seen  # the search box, after the crumbs and "Add"
    page.keyboard.type("volume 1")
    expect(page.locator("caption")).to_have_text("1 Volume record")

    # from the top: the theme switch and the account come before the content
    page.goto(served + "/admin/")
    names = []
    for _ in range(7):
        page.keyboard.press("Tab")
        names.append(focused("textContent").strip())
    assert names[:7] == [
        "Skip to the content",
        "Administration",
        "Auto",
        "Light",
        "Dark",
        "Log out",
        "Rack",
    ], names
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")  # "Dark", by keyboard
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    watched.check()


def test_an_autocomplete_field_suggests_rows_as_the_user_types(served, chromium):
    from playwright.sync_api import expect

    watched = Watched(chromium)
    page = watched.page
    log_in(page, served, "chief")
    page.goto(served + "/admin/shelfmark/add")
    page.get_by_label("Code").fill("P-12")
    field = page.get_by_label("Rack")
    suggestions = page.locator(f"#{field.get_attribute('list')} option")
    field.press_sequentially("Poe", delay=40)
    expect(suggestions).to_have_count(1)
    expect(suggestions.first).to_have_attribute("label", "Poetry")
    poetry = suggestions.first.get_attribute("value")
    field.fill("")
    field.press_sequentially("P", delay=40)
    expect(suggestions).to_have_count(2)  # Poetry and Prose
    # Headless Chromium draws no datalist pop-up (a real one opens with the
    # Down key, and Enter picks): picking a suggestion puts its key in the box.
    field.fill(poetry)
    page.keyboard.press("Enter")  # submits the form
    expect(page.get_by_role("status")).to_contain_text("Added Shelfmark")
    row = page.get_by_role("row").filter(has_text="P-12")
    expect(row).to_contain_text("Poetry")
    watched.check()


def test_children_are_edited_inline_in_chromium(served, chromium):
    from playwright.sync_api import expect

    watched = Watched(chromium)
    page = watched.page
    log_in(page, served, "chief")
    page.goto(served + "/admin/rack/")
    page.get_by_role("row").filter(has_text="Prose").get_by_role("link").click()
    rows = page.locator("#inline-volume tbody tr")
    expect(rows).to_have_count(4)  # three volumes, one empty row
    page.get_by_label("Title of Old volume 0").fill("Old volume 0, revised")
    page.get_by_label("Delete Old volume 2").check()
    page.get_by_label("Title (new row)").fill("New volume")
    page.get_by_label("Lent (new row)").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Saved Rack")

    page.goto(served + "/admin/volume/?f.rack=2")  # Prose
    titles = page.locator("#results tbody tr td:nth-child(2)")
    expect(titles).to_have_text(["New volume", "Old volume 0, revised", "Old volume 1"])
    page.goto(served + "/admin/rack/2/history")
    expect(page.locator("tbody")).to_contain_text("Added Volume “New volume”.")
    expect(page.locator("tbody")).to_contain_text("Deleted Volume “Old volume 2”.")

    # a wrong row is shown by its field, and nothing is saved
    page.goto(served + "/admin/rack/2/")
    page.get_by_label("Title (new row)").fill("Never saved")
    page.get_by_label("Title of Old volume 1").fill("")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#inline-volume [aria-invalid=true]")).to_have_count(1)
    expect(page.locator("#inline-volume .errors")).to_have_text("This field is required.")
    expect(page.get_by_label("Title (new row)")).to_have_value("Never saved")  # kept
    page.set_viewport_size({"width": 390, "height": 844})
    target = os.environ.get("KETTLE_ADMIN_SCREENSHOTS")
    if target:  # scripts/admin-screenshots
        page.screenshot(path=os.path.join(target, "admin-inline-phone.png"), full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # the rows scroll inside their box, not the page
    page.goto(served + "/admin/volume/?q=Never")
    expect(page.locator("caption")).to_have_text("0 Volume records")
    watched.check()
