"""examples/polls in a real browser: Debian's Chromium, headless, driven by
Playwright, against the example served by ``kettle serve`` from its folder. The
superuser is made as the README says, with ``kettle createuser --superuser``
(the tables made by the server's start-up); they log in to the admin, add a
question with two choices inline, and then vote on the public page."""

from __future__ import annotations

import datetime
import os
import shutil
import subprocess
import sys

import httpx
import pytest

from served import serve
from test_examples import EXAMPLES

POLLS = EXAMPLES / "polls"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SECRET = "polls-browser-key-0123456789abcdefghijklmn"
PASSWORD = "a long admin password"


def kettle(args: list[str], env: dict[str, str], stdin: str | None = None) -> str:
    """``python -m kettle ARGS`` run from the example's folder; its output."""
    environ = {**os.environ, **env}
    environ.pop("KETTLE_DATABASE_URL", None)
    environ.pop("KETTLE_SETTINGS", None)
    done = subprocess.run(
        [sys.executable, "-m", "kettle", *args],
        cwd=POLLS,
        env=environ,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


@pytest.fixture
def served(tmp_path):
    """The example under ``kettle serve`` with a fresh instance folder (its
    SQLite database, migrated at start-up), and a superuser."""
    env = {"POLLS_INSTANCE": str(tmp_path), "KETTLE_SECRET_KEY": SECRET}
    with serve(POLLS, "app:app", tmp_path / "server.log", env) as url:
        # a page answered: the start-up (and its migrations) is done
        assert httpx.get(url + "/polls/", timeout=30).status_code == 200
        made = kettle(
            ["createuser", "admin", "--superuser", "--password-stdin"],
            env,
            stdin=PASSWORD + "\n",
        )
        assert "Created the superuser 'admin'." in made
        yield url


def test_add_a_question_in_the_admin_then_vote_in_chromium(served, tmp_path):
    from playwright.sync_api import expect
    from playwright.sync_api import sync_playwright

    assert os.path.exists(CHROMIUM), "Debian's chromium is not installed"
    two_hours_ago = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=2)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page()
            errors: list[str] = []
            missing: list[str] = []
            page.on(
                "console",
                lambda m: errors.append(m.text) if m.type == "error" else None,
            )
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on(
                "response", lambda r: missing.append(r.url) if r.status == 404 else None
            )

            # the admin sends a stranger to its login page
            page.goto(served + "/admin/")
            expect(page).to_have_url(f"{served}/auth/login?next=%2Fadmin%2F")
            page.get_by_label("User name or email").fill("admin")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
            expect(page.get_by_role("heading", name="Polls")).to_be_visible()

            # a question, with two of the three empty choice rows filled in
            page.get_by_role("link", name="Add Question").click()
            page.get_by_label("Question text").fill("Tea or coffee?")
            page.get_by_label("Pub date").fill(two_hours_ago.strftime("%Y-%m-%dT%H:%M"))
            rows = page.get_by_label("Choice text (new row)")
            expect(rows).to_have_count(3)
            rows.nth(0).fill("Tea")
            rows.nth(1).fill("Coffee")
            page.get_by_role("button", name="Save").click()
            expect(page.get_by_role("status")).to_contain_text("Added Question")
            page.goto(served + "/admin/question/")
            row = page.get_by_role("row").filter(has_text="Tea or coffee?")
            expect(row.get_by_role("cell").last).to_have_text("Yes")  # recently

            # the public pages, as a visitor sees them
            page.goto(served + "/polls/")
            link = page.get_by_role("link", name="Tea or coffee?")
            expect(link).to_have_css("color", "rgb(0, 128, 0)")  # the tutorial's green
            background = page.evaluate(
                "getComputedStyle(document.body).backgroundImage"
            )
            assert background.endswith('/static/polls/images/background.png")')
            link.click()
            expect(page.get_by_role("heading", name="Tea or coffee?")).to_be_visible()
            page.get_by_role("button", name="Vote").click()  # no choice
            expect(page.get_by_role("alert")).to_have_text(
                "You didn't select a choice."
            )
            page.get_by_label("Coffee").check()
            page.get_by_role("button", name="Vote").click()
            expect(page).to_have_url(f"{served}/polls/1/results/")
            expect(page.get_by_role("listitem")).to_have_text(
                ["Tea -- 0 votes", "Coffee -- 1 vote"]
            )
            page.screenshot(path=str(tmp_path / "results.png"), full_page=True)
            page.get_by_role("link", name="Vote again?").click()
            page.get_by_label("Coffee").check()
            page.get_by_role("button", name="Vote").click()
            expect(page.get_by_role("listitem")).to_have_text(
                ["Tea -- 0 votes", "Coffee -- 2 votes"]
            )

            # and the admin shows the votes in the question's choices
            page.goto(served + "/admin/question/1/")
            expect(page.get_by_label("Votes").nth(1)).to_have_value("2")
            assert missing == []
            assert errors == []  # no console errors (CSP included)
        finally:
            browser.close()
    assert (tmp_path / "results.png").stat().st_size > 2000
