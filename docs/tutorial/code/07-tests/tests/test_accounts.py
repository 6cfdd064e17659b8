"""Registering, logging in and out."""

from kettle.testing import TestClient


def test_register_then_write_a_post(client: TestClient) -> None:
    form = {"username": "cho", "password": "oolong in the afternoon"}
    page = client.post("/register", data={**form, "confirm": form["password"]})
    assert "Welcome, cho!" in page.text  # logged in at once
    assert client.get("/new").status_code == 200


def test_register_refuses_a_weak_password_and_a_taken_name(
    client: TestClient, add_user
) -> None:
    weak = client.post(
        "/register", data={"username": "cho", "password": "cho", "confirm": "cho"}
    )
    assert "This password is too short" in weak.text
    add_user("ann")
    strong = "a long and unusual passphrase"
    taken = client.post(
        "/register", data={"username": "ann", "password": strong, "confirm": strong}
    )
    assert "The name ann is taken." in taken.text


def test_log_in_and_out(client: TestClient, add_user, log_in) -> None:
    add_user("ann")
    wrong = client.post("/auth/login", data={"username": "ann", "password": "nope"})
    assert "Please enter a correct user name and password." in wrong.text
    log_in("ann")
    page = client.post("/auth/logout")
    assert "Log in" in page.text and "<span>ann</span>" not in page.text
