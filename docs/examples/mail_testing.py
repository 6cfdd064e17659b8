"""Tests of code that sends mail: with the "memory" backend, each message is
kept in ``kettle.mail.outbox`` instead of being sent."""

import pytest

from kettle import Kettle
from kettle import mail
from kettle.mail import send_mail


def create_app(**settings):
    app = Kettle(env_file=None, **settings)

    @app.post("/invite/{name}")
    def invite(name: str):
        send_mail(
            "You are invited",
            f"Hello {name}, come for tea on Sunday.",
            f"{name}@example.org",
            html=f"<p>Hello {name}, come for tea on <b>Sunday</b>.</p>",
        )
        return {"invited": name}

    return app


# -- in conftest.py
@pytest.fixture
def outbox():
    mail.outbox.clear()  # one list for the whole run: emptied, never replaced
    return mail.outbox


# -- in a test module
def test_invite(outbox):
    app = create_app(mail_backend="memory")
    with app.test_client() as client:
        client.post("/invite/ann")
    [message] = outbox  # kettle.mail.Message objects, oldest first
    assert message.subject == "You are invited"
    assert message.to == ["ann@example.org"]
    assert "come for tea" in message.body and "<b>Sunday</b>" in message.html
    assert message.from_email == "webmaster@localhost"  # MAIL_DEFAULT_FROM
    email = message.as_email()  # the whole email, as it would be sent
    assert email["To"] == "ann@example.org"
    assert email.get_content_type() == "multipart/alternative"


def test_outbox_of_one_app(outbox):
    shop, blog = create_app(mail_backend="memory"), create_app(mail_backend="memory")
    with shop.test_client() as client:
        client.post("/invite/bob")
    with blog.app_context():  # send_mail outside a request: the app's context
        send_mail("New post", "Read it!", "carol@example.org")
    assert [m.to for m in shop.extensions["mail"].outbox] == [["bob@example.org"]]
    assert [m.subject for m in outbox] == ["You are invited", "New post"]  # all apps'
