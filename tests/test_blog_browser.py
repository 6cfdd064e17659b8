"""examples/blog in a real browser: Debian's Chromium, headless, driven by
Playwright, against the app served by ``kettle serve`` on loopback. It registers,
logs in, writes a post with a picture, and sees it on the home page."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from served import serve

BLOG = Path(__file__).resolve().parent.parent / "examples" / "blog"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201e2a7"
    "3f750000000049454e44ae426082"
)


@pytest.fixture
def served(tmp_path):
    """The blog under ``kettle serve`` (granian) on a free loopback port."""
    env = {
        "BLOG_INSTANCE": str(tmp_path),
        "KETTLE_SECRET_KEY": "browser-test-key-0123456789abcdef",
    }
    with serve(BLOG, "app:app", tmp_path / "server.log", env) as url:
        yield url


def test_register_log_in_and_write_a_post_in_chromium(served, tmp_path):
    from playwright.sync_api import expect
    from playwright.sync_api import sync_playwright

    assert os.path.exists(CHROMIUM), "Debian's chromium is not installed"
    picture = tmp_path / "dot.png"
    picture.write_bytes(PNG)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page()
            page.goto(served + "/")
            page.get_by_role("link", name="Register").click()
            page.get_by_label("Username").fill("ann")
            page.get_by_label("Password").fill("a long password")
            page.get_by_role("button", name="Register").click()
            expect(page).to_have_url(served + "/auth/login")

            page.get_by_label("Password").fill("wrong")
            page.get_by_label("Username").fill("ann")
            page.get_by_role("button", name="Log In").click()
            expect(page.get_by_role("alert")).to_have_text(
                "Incorrect username or password."
            )

            page.get_by_label("Username").fill("ann")
            page.get_by_label("Password").fill("a long password")
            page.get_by_role("button", name="Log In").click()
            expect(page).to_have_url(served + "/")
            expect(page.locator("nav")).to_contain_text("ann")

            page.get_by_role("link", name="New").click()
            page.get_by_label("Title").fill("Hello from <Chromium>")
            page.get_by_label("Body").fill("Tea is ready.")
            page.get_by_label("Picture (optional)").set_input_files(str(picture))
            page.get_by_role("button", name="Save").click()

            expect(page).to_have_url(served + "/")
            post = page.locator("article.post").first
            expect(post.get_by_role("heading")).to_have_text("Hello from <Chromium>")
            expect(post).to_contain_text("Tea is ready.")
            expect(post).to_contain_text("by ann on")
            image = post.locator("img.picture")
            expect(image).to_be_visible()
            width = image.evaluate("img => img.naturalWidth")
            assert width == 1  # the uploaded picture, served back
        finally:
            browser.close()
