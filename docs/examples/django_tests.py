"""Django tests (TestCase, its client), in pytest with Kettle's test client:
the Django original of each line is in its comment."""

import pytest
from django_auth import add_editor
from django_models import add_teas
from django_project import create_app

from kettle.auth import hashers
from kettle.db import get_database

hashers.set_test_parameters()  # PASSWORD_HASHERS = [MD5PasswordHasher] in tests


@pytest.fixture
def app(tmp_path):
    app = create_app(  # @override_settings(...): the factory's keyword arguments
        env_file=None,
        database_url=f"sqlite:///{tmp_path / 'test.sqlite3'}",
        secret_key="only-for-the-tests-0123456789abcdef",
        testing=True,
    )
    database = get_database(app)
    database.create_all()  # the test database (or: Migrations(app).upgrade())
    with database.session() as db:  # setUpTestData()
        add_teas(db)
        add_editor(db, "ann", "a long passphrase")
        db.commit()
    return app


@pytest.fixture
def client(app):
    with app.test_client() as client:  # self.client
        yield client


def test_the_shop_lists_its_teas(client):
    response = client.get("/shop/")
    assert response.status_code == 200
    assert "Gyokuro" in response.text  # self.assertContains(response, "Gyokuro")


def test_an_editor_sets_a_price(client):
    # self.client.login(username="ann", password=...): log in through the page
    client.post(
        "/auth/login", data={"username": "ann", "password": "a long passphrase"}
    )
    response = client.post("/staff/teas/1/price", params={"price": "8.00"})
    assert response.json() == {"price": "8.00"}
    assert client.get("/shop/teas/1").json()["price"] == "8.00"


def test_visitors_may_not(client):
    response = client.post("/staff/teas/1/price", params={"price": "1"})
    assert response.status_code == 401  # no user; a browser is sent to LOGIN_URL
