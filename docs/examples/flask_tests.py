"""Flask tests, in Kettle: the same pytest fixtures, and a test client that is
an httpx client. The Flask original of each line is in its comment."""

import pytest
from flask_app import app

from kettle import url_for


@pytest.fixture
def client():
    with app.test_client() as client:  # with app.test_client() as client
        yield client


def test_index(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.json()["hello"] == "stranger"  # response.get_json()
    assert response.headers["X-Served-By"] == "kettle"


def test_search(client):
    response = client.get("/search", params={"q": "tea", "tag": ["a", "b"]})
    assert response.json() == {"q": "tea", "page": 1, "tags": ["a", "b"]}
    assert client.get("/search").status_code == 422  # q is required


def test_create_user(client):
    response = client.post("/users", json={"name": "cho"})  # json=, the same
    assert response.status_code == 201
    assert client.get(response.headers["Location"]).json()["name"] == "cho"


def test_login_follows_the_redirect(client):
    # client.post(..., follow_redirects=True): Kettle's client follows by default
    response = client.post("/login/ann")
    assert response.json()["messages"] == ["Welcome, ann!"]
    assert client.get("/").json()["hello"] == "ann"  # the cookie is kept
    redirected = client.post("/login/bob", follow_redirects=False)
    assert redirected.status_code == 302
    assert redirected.headers["location"] == "/"


def test_not_found(client):
    response = client.get("/users/99")
    assert response.status_code == 404
    assert response.json() == {"error": "No such user."}
    assert response.content == b'{"error":"No such user."}'  # response.data


def test_url_for():
    with app.app_context():  # with app.test_request_context()
        assert url_for("show_user", user_id=2) == "/users/2"
