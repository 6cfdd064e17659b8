"""Reading, writing, editing and deleting posts; the admin's list."""

import re

from kettle import Kettle
from kettle.testing import TestClient


def test_no_posts_yet(client: TestClient) -> None:
    assert "No posts yet." in client.get("/").text


def test_write_edit_and_delete_a_post(ann: TestClient) -> None:
    page = ann.post("/new", data={"title": "Green <tea>", "body": "Steep it."})
    assert "Post published." in page.text
    assert "<h1>Green &lt;tea&gt;</h1>" in page.text  # escaped
    assert "by ann" in ann.get("/").text
    page = ann.post("/1/edit", data={"title": "Green tea", "body": "Steep it."})
    assert "Post saved." in page.text and "<h1>Green tea</h1>" in page.text
    page = ann.post("/1/delete")
    assert "Post deleted." in page.text and "No posts yet." in page.text


def test_a_post_needs_a_title(ann: TestClient) -> None:
    page = ann.post("/new", data={"title": "", "body": "No title."})
    assert "This field is required." in page.text
    assert "No posts yet." in ann.get("/").text


def test_only_logged_in_users_write(client: TestClient) -> None:
    page = client.get("/new", headers={"accept": "text/html"}, follow_redirects=False)
    assert page.headers["location"] == "/auth/login?next=%2Fnew"


def test_only_the_author_changes_a_post(ann: TestClient, add_user, log_in) -> None:
    ann.post("/new", data={"title": "Tea for two"})
    ann.post("/auth/logout")
    add_user("bob")
    log_in("bob")  # the same client, now logged in as bob
    assert "Edit" not in ann.get("/1").text
    assert ann.get("/1/edit").status_code == 403
    assert ann.post("/1/delete").status_code == 403


def test_forms_are_checked_for_csrf(app: Kettle, add_user) -> None:
    add_user("ann")
    with app.test_client(enforce_csrf_checks=True) as browser:  # as a browser is
        page = browser.get("/auth/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        browser.post(
            "/auth/login",
            data={"username": "ann", "password": "ann's password", "csrf_token": token},
        )
        assert browser.post("/new", data={"title": "Forged"}).status_code == 403


def test_the_admin_lists_posts_for_staff(ann: TestClient, add_user, log_in) -> None:
    ann.post("/new", data={"title": "Tea for two"})
    assert ann.get("/admin/post/").status_code == 403  # ann is not staff
    add_user("root", is_staff=True, is_superuser=True)
    log_in("root")
    assert "Tea for two" in ann.get("/admin/post/?q=tea").text
