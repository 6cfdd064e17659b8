"""examples/polls (Django's tutorial polls app in Kettle): the tests of the
tutorial's part 5, the vote and its refusals, the admin through the test client,
the fixtures loaded by the real ``kettle db seed``, both serve commands, and votes
sent all at once to a real ``kettle serve`` process on SQLite, PostgreSQL and
MariaDB, every one of them counted."""

from __future__ import annotations

import concurrent.futures
import datetime
import importlib
import io
import json
import os
import re
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

from kettle.testing import TestClient
from served import serve
from test_examples import EXAMPLES
from test_examples import load

POLLS = EXAMPLES / "polls"
SECRET = "polls-test-key-0123456789abcdefghijklmnop"
ADMIN_PASSWORD = "the admin's long password"


@pytest.fixture(scope="module")
def polls(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    """examples/polls/app.py, imported once (its models join Kettle's metadata
    once); its ``polls`` package found as ``kettle run`` finds it."""
    instance = tmp_path_factory.mktemp("polls-instance")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("POLLS_INSTANCE", str(instance))
        patch.setenv("KETTLE_SECRET_KEY", SECRET)
        patch.delenv("KETTLE_DATABASE_URL", raising=False)
        patch.syspath_prepend(str(POLLS))
        from kettle.auth import hashers

        hashers.set_test_parameters()
        return load("polls")


@pytest.fixture(scope="module")
def models(polls: ModuleType) -> ModuleType:
    return importlib.import_module("polls.models")


class Site:
    """The example on a database of its own, with the tutorial's
    ``create_question`` and ways to read what the database holds."""

    def __init__(self, polls: ModuleType, database_url: str, interface: str) -> None:
        self.models = importlib.import_module("polls.models")
        self.app = polls.create_app(
            database_url=database_url, secret_key=SECRET, env_file=None
        )
        self.interface = interface

    def client(self, **options: object) -> TestClient:
        return TestClient(self.app, interface=self.interface, **options)  # type: ignore[arg-type]

    def session(self):
        from kettle.db import get_database

        return get_database(self.app).session()

    def create_question(
        self, question_text: str, days: float, choices: tuple[str, ...] = ()
    ) -> int:
        """A question published ``days`` from now (negative: in the past)."""
        Question, Choice = self.models.Question, self.models.Choice
        with self.session() as db:
            question = Question(
                question_text=question_text,
                pub_date=self.models.now() + datetime.timedelta(days=days),
            )
            question.choices = [Choice(choice_text=text) for text in choices]
            db.add(question)
            db.commit()
            return question.id

    def choice_ids(self, question_id: int) -> list[int]:
        from sqlalchemy import select

        Choice = self.models.Choice
        with self.session() as db:
            return list(
                db.scalars(
                    select(Choice.id)
                    .where(Choice.question_id == question_id)
                    .order_by(Choice.id)
                )
            )

    def votes(self) -> dict[int, int]:
        """Every choice's votes, by its key."""
        from sqlalchemy import select

        Choice = self.models.Choice
        with self.session() as db:
            return {
                key: votes for key, votes in db.execute(select(Choice.id, Choice.votes))
            }

    def dispose(self) -> None:
        from kettle.db import get_database

        get_database(self.app).dispose()


@pytest.fixture(params=["asgi", "wsgi"])
def site(polls: ModuleType, tmp_path: Path, request: pytest.FixtureRequest):
    """The example on a fresh SQLite database, its tables made by its start-up
    (the migrations), through ASGI or WSGI."""
    made = Site(polls, f"sqlite:///{tmp_path / 'polls.sqlite3'}", request.param)
    with made.client() as client:
        made.http = client  # type: ignore[attr-defined]
        yield made
    made.dispose()


def listed(page) -> list[str]:
    """The questions the index lists, in order."""
    return re.findall(r'<li><a href="/polls/\d+/">([^<]*)</a></li>', page.text)


def results(page) -> list[str]:
    return [
        " ".join(item.split())
        for item in re.findall(r"<li>([^<]*vote[^<]*)</li>", page.text)
    ]


def token(page) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


# -- the tutorial's part 5: QuestionModelTests ------------------------------------


def test_was_published_recently_with_future_question(models):
    time = models.now() + datetime.timedelta(days=30)
    future_question = models.Question(pub_date=time)
    assert future_question.was_published_recently() is False


def test_was_published_recently_with_old_question(models):
    time = models.now() - datetime.timedelta(days=1, seconds=1)
    old_question = models.Question(pub_date=time)
    assert old_question.was_published_recently() is False


def test_was_published_recently_with_recent_question(models):
    time = models.now() - datetime.timedelta(hours=23, minutes=59, seconds=59)
    recent_question = models.Question(pub_date=time)
    assert recent_question.was_published_recently() is True


def test_was_published_recently_reads_a_time_with_a_zone_as_that_zone(models):
    plus_five = datetime.timezone(datetime.timedelta(hours=5))
    an_hour_ago = datetime.datetime.now(plus_five) - datetime.timedelta(hours=1)
    assert models.Question(pub_date=an_hour_ago).was_published_recently() is True
    in_an_hour = an_hour_ago + datetime.timedelta(hours=2)
    assert models.Question(pub_date=in_an_hour).was_published_recently() is False


# -- QuestionIndexViewTests --------------------------------------------------------


def test_no_questions(site):
    """If no questions exist, an appropriate message is displayed."""
    response = site.http.get("/polls/")
    assert response.status_code == 200
    assert "No polls are available." in response.text
    assert listed(response) == []


def test_past_question(site):
    """Questions with a pub_date in the past are displayed on the index page."""
    site.create_question("Past question.", days=-30)
    response = site.http.get("/polls/")
    assert listed(response) == ["Past question."]
    assert "No polls are available." not in response.text


def test_future_question(site):
    """Questions with a pub_date in the future aren't displayed on the index page."""
    site.create_question("Future question.", days=30)
    response = site.http.get("/polls/")
    assert "No polls are available." in response.text
    assert listed(response) == []


def test_future_question_and_past_question(site):
    """Even if both past and future questions exist, only past questions are
    displayed."""
    site.create_question("Past question.", days=-30)
    site.create_question("Future question.", days=30)
    assert listed(site.http.get("/polls/")) == ["Past question."]


def test_two_past_questions(site):
    """The questions index page may display multiple questions, newest first."""
    site.create_question("Past question 1.", days=-30)
    site.create_question("Past question 2.", days=-5)
    assert listed(site.http.get("/polls/")) == ["Past question 2.", "Past question 1."]


def test_the_index_lists_the_latest_five(site):
    for n in range(7):
        site.create_question(f"Question {n}.", days=-10 + n)
    assert listed(site.http.get("/polls/")) == [
        f"Question {n}." for n in (6, 5, 4, 3, 2)
    ]
    page = site.http.get("/", follow_redirects=False)
    assert (page.status_code, page.headers["location"]) == (302, "/polls/")


def test_a_question_text_is_escaped(site):
    site.create_question("Is <b>this</b> & 'that' escaped?", days=-1)
    page = site.http.get("/polls/")
    assert listed(page) == ["Is &lt;b&gt;this&lt;/b&gt; &amp; &#39;that&#39; escaped?"]


# -- QuestionDetailViewTests, and the results ---------------------------------------


def test_detail_of_a_future_question(site):
    """The detail view of a question with a pub_date in the future returns a 404."""
    future = site.create_question("Future question.", days=5, choices=("A", "B"))
    assert site.http.get(f"/polls/{future}/").status_code == 404
    assert site.http.get(f"/polls/{future}/results/").status_code == 404


def test_detail_of_a_past_question(site):
    """The detail view of a question with a pub_date in the past displays the
    question's text and a radio button per choice."""
    past = site.create_question("Past Question.", days=-5, choices=("Yes", "No"))
    yes, no = site.choice_ids(past)
    page = site.http.get(f"/polls/{past}/")
    assert page.status_code == 200
    assert "<legend><h1>Past Question.</h1></legend>" in page.text
    assert f'action="/polls/{past}/vote/"' in page.text
    radios = re.findall(
        r'<input type="radio" name="choice" id="(choice\d)" value="(\d+)">\s*'
        r'<label for="(choice\d)">([^<]*)</label>',
        page.text,
    )
    assert radios == [
        ("choice1", str(yes), "choice1", "Yes"),
        ("choice2", str(no), "choice2", "No"),
    ]
    assert 'name="csrf_token"' in page.text


def test_missing_questions_are_404(site):
    for path in ("/polls/1/", "/polls/1/results/", "/polls/0/"):
        assert site.http.get(path).status_code == 404, path
    for path in (
        "/polls/x/",
        "/polls/-1/",
        "/polls/1.0/",
        "/polls/99999999999999999999/",
        "/polls/" + "9" * 5000 + "/",
    ):
        assert site.http.get(path).status_code == 404, path
    assert site.http.post("/polls/1/vote/", data={"choice": "1"}).status_code == 404


def test_the_stylesheet_and_its_background(site):
    page = site.http.get("/polls/")
    href = re.search(r'<link rel="stylesheet" href="([^"]+)">', page.text).group(1)
    assert re.fullmatch(r"/static/polls/style\.[0-9a-f]{12}\.css", href)
    css = site.http.get(href)
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert 'url("images/background.png")' in css.text
    assert "li a" in css.text and "green" in css.text
    picture = site.http.get("/static/polls/images/background.png")
    assert picture.status_code == 200
    assert picture.content.startswith(b"\x89PNG\r\n\x1a\n")


# -- the vote ---------------------------------------------------------------------


def test_a_vote_is_counted_and_sends_the_browser_to_the_results(site):
    question = site.create_question("Tea or coffee?", -1, ("Tea", "Coffee"))
    tea, coffee = site.choice_ids(question)
    voted = site.http.post(
        f"/polls/{question}/vote/", data={"choice": str(tea)}, follow_redirects=False
    )
    assert voted.status_code == 303
    assert voted.headers["location"] == f"/polls/{question}/results/"
    assert site.votes() == {tea: 1, coffee: 0}
    for _ in range(2):
        site.http.post(f"/polls/{question}/vote/", data={"choice": str(coffee)})
    page = site.http.get(f"/polls/{question}/results/")
    assert page.status_code == 200
    assert "<h1>Tea or coffee?</h1>" in page.text
    assert results(page) == ["Tea -- 1 vote", "Coffee -- 2 votes"]
    assert f'<a href="/polls/{question}/">Vote again?</a>' in page.text
    assert site.votes() == {tea: 1, coffee: 2}


def test_no_choice_shows_the_form_again_as_django_does(site):
    question = site.create_question("Tea or coffee?", -1, ("Tea", "Coffee"))
    for data in ({}, {"choice": ""}, {"other": "1"}):
        page = site.http.post(f"/polls/{question}/vote/", data=data)
        assert page.status_code == 200, data
        assert "<strong>You didn&#39;t select a choice.</strong>" in page.text
        assert 'type="radio" name="choice"' in page.text  # the form, again
    assert set(site.votes().values()) == {0}


def test_a_choice_of_another_question_is_refused(site):
    tea_or_coffee = site.create_question("Tea or coffee?", -1, ("Tea", "Coffee"))
    cats_or_dogs = site.create_question("Cats or dogs?", -1, ("Cats", "Dogs"))
    cats, _ = site.choice_ids(cats_or_dogs)
    page = site.http.post(f"/polls/{tea_or_coffee}/vote/", data={"choice": str(cats)})
    assert page.status_code == 400
    assert "That is not one of this question&#39;s choices." in page.text
    assert "<legend><h1>Tea or coffee?</h1></legend>" in page.text
    missing = site.http.post(f"/polls/{tea_or_coffee}/vote/", data={"choice": "999"})
    assert missing.status_code == 400
    assert set(site.votes().values()) == {0}  # none counted, anywhere


def test_a_choice_that_is_no_key_is_refused(site):
    question = site.create_question("Tea or coffee?", -1, ("Tea", "Coffee"))
    tea, _ = site.choice_ids(question)
    for value in (
        "tea",
        f"{tea}.0",
        f"-{tea}",
        f"+{tea}",
        f" {tea}",
        f"{tea}abc",
        "1e3",
        "0x1",
        "\u0661",  # ARABIC-INDIC DIGIT ONE: int() reads it as 1
        "1_0",
        "2147483648",  # past the largest INTEGER
        "99999999999999999999",
        "9" * 5000,
        "\x00",
    ):
        page = site.http.post(f"/polls/{question}/vote/", data={"choice": value})
        assert page.status_code == 400, value
        assert "That is not one of this question&#39;s choices." in page.text
    assert set(site.votes().values()) == {0}


def test_votes_on_missing_or_future_questions_are_404(site):
    future = site.create_question("Future question.", days=1, choices=("A",))
    (choice,) = site.choice_ids(future)
    assert (
        site.http.post(
            f"/polls/{future}/vote/", data={"choice": str(choice)}
        ).status_code
        == 404
    )
    assert (
        site.http.post("/polls/999/vote/", data={"choice": str(choice)}).status_code
        == 404
    )
    assert site.votes() == {choice: 0}
    assert site.http.get(f"/polls/{future}/vote/").status_code == 405


def test_a_vote_needs_the_csrf_token(site):
    question = site.create_question("Tea or coffee?", -1, ("Tea", "Coffee"))
    tea, _ = site.choice_ids(question)
    with site.client(enforce_csrf_checks=True) as browser:
        form = browser.get(f"/polls/{question}/")
        path = f"/polls/{question}/vote/"
        assert browser.post(path, data={"choice": str(tea)}).status_code == 403
        forged = browser.post(
            path,
            data={"choice": str(tea), "csrf_token": token(form)},
            headers={"origin": "https://evil.example"},
        )
        assert forged.status_code == 403
        assert site.votes()[tea] == 0
        voted = browser.post(
            path,
            data={"choice": str(tea), "csrf_token": token(form)},
            follow_redirects=False,
        )
        assert voted.status_code == 303
    assert site.votes()[tea] == 1


# -- the pages and the vote on every database ------------------------------------


def test_the_site_on_every_database(polls, database_url):
    """The index, detail, vote and results, on SQLite, PostgreSQL and MariaDB,
    tables made by the migrations at start-up; keys too large for the database's
    INTEGER are 404 and 400, not errors; then ``kettle db check`` finds the
    migrated database and the models in agreement."""
    site = Site(polls, database_url.url_sync, "wsgi")
    try:
        with site.client() as client:
            past = site.create_question("Past question.", -2, ("Yes", "No"))
            future = site.create_question("Future question.", 2, ("Later",))
            yes, no = site.choice_ids(past)
            (later,) = site.choice_ids(future)
            assert listed(client.get("/polls/")) == ["Past question."]
            for _ in range(3):
                voted = client.post(
                    f"/polls/{past}/vote/",
                    data={"choice": str(yes)},
                    follow_redirects=False,
                )
                assert voted.status_code == 303
            assert results(client.get(f"/polls/{past}/results/")) == [
                "Yes -- 3 votes",
                "No -- 0 votes",
            ]
            huge = "2147483648"
            for path in (f"/polls/{huge}/", f"/polls/{huge}/results/"):
                assert client.get(path).status_code == 404
            assert (
                client.post(f"/polls/{huge}/vote/", data={"choice": "1"}).status_code
                == 404
            )
            refused = client.post(f"/polls/{past}/vote/", data={"choice": huge})
            assert refused.status_code == 400
            assert (
                client.post(
                    f"/polls/{future}/vote/", data={"choice": str(later)}
                ).status_code
                == 404
            )
            assert site.votes() == {yes: 3, no: 0, later: 0}
            # the admin's pages of a record, with a key no INTEGER holds
            add_superuser(site)
            assert log_in(client).status_code == 200
            assert client.get(f"/admin/question/{past}/").status_code == 200
            for key in (huge, "9" * 5000):
                for end in ("/", "/history", "/delete"):
                    page = client.get(f"/admin/question/{key}{end}")
                    assert page.status_code == 404, (key[:12], end)
    finally:
        site.dispose()
    checked = kettle_command(
        ["db", "check"], {"KETTLE_DATABASE_URL": database_url.url_sync}
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def kettle_command(
    args: list[str], env: dict[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m kettle ARGS`` run from the example's folder."""
    environ = {**os.environ, "KETTLE_SECRET_KEY": SECRET, **env}
    environ.pop("KETTLE_SETTINGS", None)
    return subprocess.run(
        [sys.executable, "-m", "kettle", *args],
        cwd=POLLS,
        env=environ,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


# -- the admin (the tutorial's part 7), through the test client --------------------


def log_in(client: TestClient, name: str = "admin"):
    """Log in on the login page the admin sends browsers to; the admin's
    dashboard (or its refusal) follows."""
    login = client.get("/auth/login?next=/admin/")
    done = client.post(
        "/auth/login",
        data={
            "username": name,
            "password": ADMIN_PASSWORD,
            "next": "/admin/",
            "csrf_token": token(login),
        },
    )
    assert str(done.url).endswith("/admin/")
    return done


def add_superuser(site: Site, name: str = "admin", staff: bool = True) -> None:
    from kettle.auth import User

    with site.session() as db:
        db.add(
            User(
                username=name,
                password=ADMIN_PASSWORD,
                is_staff=staff,
                is_superuser=staff,
            )
        )
        db.commit()


def test_the_admin_lists_searches_and_filters_questions(site):
    add_superuser(site)
    site.create_question("What's new?", days=-0.01)
    site.create_question("What's old?", days=-40)
    site.create_question("Tea or coffee?", days=-3)
    with site.client(enforce_csrf_checks=True) as browser:
        anonymous = browser.get(
            "/admin/question/", headers={"accept": "text/html"}, follow_redirects=False
        )
        assert anonymous.status_code in (302, 303)
        assert anonymous.headers["location"].startswith("/auth/login?next=")
        dashboard = log_in(browser)
        assert dashboard.status_code == 200
        assert '<h2 id="models-2">Polls</h2>' in dashboard.text
        assert '<a href="/admin/question/">Question</a>' in dashboard.text
        assert "/admin/choice/" not in dashboard.text  # edited inline only

        page = browser.get("/admin/question/")
        headers = re.findall(
            r'<a id="sort-[a-z_]+" href="[^"]*">([^<]+)</a>', page.text
        )
        assert headers == ["Question text", "Pub date", "Published recently?"]
        assert rows(page) == [
            ("What&#39;s new?", "Yes"),
            ("Tea or coffee?", "No"),
            ("What&#39;s old?", "No"),
        ]  # newest first, and whether each was published recently
        assert rows(browser.get("/admin/question/?q=WHAT")) == [
            ("What&#39;s new?", "Yes"),
            ("What&#39;s old?", "No"),
        ]
        assert rows(browser.get("/admin/question/?f.pub_date=7d")) == [
            ("What&#39;s new?", "Yes"),
            ("Tea or coffee?", "No"),
        ]
        assert 'name="f.pub_date"' in page.text
        # the computed column sorts by its ordering column, pub_date
        oldest_first = browser.get("/admin/question/?o=was_published_recently")
        assert rows(oldest_first) == rows(page)[::-1]
        newest_first = browser.get("/admin/question/?o=-was_published_recently")
        assert rows(newest_first) == rows(page)


def rows(page) -> list[tuple[str, str]]:
    """The list page's (question text, published recently) rows."""
    return re.findall(
        r'<td><a href="/admin/question/\d+/">([^<]*)</a></td>\s*'
        r"<td>[^<]*</td>\s*<td>(Yes|No)</td>",
        page.text,
    )


def test_a_question_and_its_choices_are_added_in_the_admin_then_voted_on(site):
    add_superuser(site)
    add_superuser(site, "visitor", staff=False)
    yesterday = site.models.now() - datetime.timedelta(days=1)
    with site.client(enforce_csrf_checks=True) as browser:
        assert log_in(browser, "visitor").status_code == 403  # not staff
        assert browser.get("/admin/question/add").status_code == 403
        browser.cookies.clear()
        assert log_in(browser).status_code == 200
        form = browser.get("/admin/question/add")
        assert form.status_code == 200
        for name in (
            "question_text",
            "pub_date",
            "choice-0-choice_text",
            "choice-2-votes",
        ):
            assert f'name="{name}"' in form.text
        fields = {
            "csrf_token": token(form),
            "question_text": "What's up?",
            "pub_date": yesterday.strftime("%Y-%m-%dT%H:%M"),
            "choice-rows": "3",
            "choice-0-choice_text": "Not much",
            "choice-0-votes": "0",
            "choice-1-choice_text": "The sky",
            "choice-1-votes": "0",
            "choice-2-choice_text": "",  # the third row left empty: not saved
            "choice-2-votes": "0",
        }
        refused = browser.post(
            "/admin/question/add", data={**fields, "question_text": ""}
        )
        assert refused.status_code == 200  # the form again, as Django's admin
        assert "This field is required." in refused.text
        saved = browser.post("/admin/question/add", data=fields)
        assert saved.status_code == 200
        assert "Added Question" in saved.text
    from sqlalchemy import select

    Question = site.models.Question
    with site.session() as db:
        question = db.scalars(select(Question)).one()
        assert question.question_text == "What's up?"
        assert question.pub_date == yesterday.replace(second=0, microsecond=0)
        assert [(c.choice_text, c.votes) for c in question.choices] == [
            ("Not much", 0),
            ("The sky", 0),
        ]
        question_id, sky = question.id, question.choices[1].id
    assert listed(site.http.get("/polls/")) == ["What&#39;s up?"]
    site.http.post(f"/polls/{question_id}/vote/", data={"choice": str(sky)})
    assert results(site.http.get(f"/polls/{question_id}/results/")) == [
        "Not much -- 0 votes",
        "The sky -- 1 vote",
    ]


# -- the fixtures, with the real `kettle db seed` ---------------------------------


def test_the_fixtures_are_seeded_by_the_cli_and_shown(polls, tmp_path):
    url = f"sqlite:///{tmp_path / 'seeded.sqlite3'}"
    env = {"KETTLE_DATABASE_URL": url, "POLLS_INSTANCE": str(tmp_path)}
    migrated = kettle_command(["db", "migrate"], env)
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    seeded = kettle_command(["db", "seed", "fixtures/polls.json"], env)
    assert seeded.returncode == 0, seeded.stdout + seeded.stderr
    site = Site(polls, url, "asgi")
    try:
        with site.client() as client:
            index = client.get("/polls/")
            shown = listed(index)
            assert shown == [
                "What&#39;s new?",
                "Which tea goes best with biscuits?",
                "Tabs or spaces?",
            ]
            assert "2100" not in index.text  # the question of 2100 waits its turn
            tea = re.search(r'<li><a href="/polls/(\d+)/">Which tea', index.text)[1]
            assert results(client.get(f"/polls/{tea}/results/")) == [
                "Assam -- 5 votes",
                "Darjeeling -- 3 votes",
                "Earl Grey -- 1 vote",
            ]
            records = json.loads((POLLS / "fixtures" / "polls.json").read_text())
            keys = {
                r["fields"]["choice_text"]: r["fields"]["id"]
                for r in records
                if r["model"] == "choice"
            }
            future = next(
                r["fields"]["id"]
                for r in records
                if r["model"] == "question" and "2100" in r["fields"]["question_text"]
            )
            assert client.get(f"/polls/{future}/").status_code == 404
            more = client.post(
                f"/polls/{tea}/vote/", data={"choice": str(keys["Earl Grey"])}
            )
            assert results(more)[2] == "Earl Grey -- 2 votes"
    finally:
        site.dispose()


# -- served: `kettle serve` and `kettle run` from the example's folder --------------


@pytest.mark.parametrize("command", [("serve",), ("run", "--no-reload")])
def test_served_from_its_folder(tmp_path, command):
    """A fresh instance folder: the tables are made at start-up, the pages and
    the stylesheet are served, the admin asks for a login."""
    import httpx

    env = {"POLLS_INSTANCE": str(tmp_path), "KETTLE_SECRET_KEY": SECRET}
    with (
        serve(POLLS, "app:app", tmp_path / "server.log", env, command) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        home = client.get("/")
        assert (home.status_code, home.headers["location"]) == (302, "/polls/")
        index = client.get("/polls/")
        assert index.status_code == 200
        assert "No polls are available." in index.text
        # debug (`kettle run`) shows the database's time on every response
        assert ("server-timing" in index.headers) == (command[0] == "run")
        href = re.search(r'<link rel="stylesheet" href="([^"]+)">', index.text).group(1)
        assert client.get(href).status_code == 200
        assert client.get("/static/polls/images/background.png").status_code == 200
        admin = client.get("/admin/", headers={"accept": "text/html"})
        assert admin.status_code in (302, 303)
        assert admin.headers["location"].startswith("/auth/login")
        assert client.get("/polls/1/").status_code == 404
    assert (tmp_path / "polls.sqlite3").exists()
    assert "Traceback" not in (tmp_path / "server.log").read_text()


# -- votes at the same moment, to a real `kettle serve` ---------------------------

VOTERS = 200


def test_concurrent_votes_are_all_counted(polls, database_url, tmp_path):
    """VOTERS browsers each load the voting form (their own session and CSRF
    token), then all vote at once. Every vote is answered with a redirect, and
    the database counts exactly as many votes as there were redirects: none
    lost, as a read-modify-write of ``votes`` would lose some."""
    import httpx

    site = Site(polls, database_url.url_sync, "wsgi")
    try:
        from kettle.db.migrations import Migrations

        Migrations(site.app, stdout=io.StringIO()).upgrade()
        question = site.create_question("Tea or coffee?", -1, ("Tea", "Coffee"))
        tea, coffee = site.choice_ids(question)
    finally:
        site.dispose()
    # served.serve() keeps KETTLE_DATABASE_URL out of the server's environment:
    # the database is given by a settings module, which Kettle reads too.
    (tmp_path / "polls_test_settings.py").write_text(
        f"DATABASE_URL = {database_url.url_sync!r}\n"
    )
    env = {
        "KETTLE_SETTINGS": "polls_test_settings",
        "PYTHONPATH": str(tmp_path),
        "POLLS_INSTANCE": str(tmp_path),
        "KETTLE_SECRET_KEY": SECRET,
    }
    log = tmp_path / "server.log"
    with serve(POLLS, "app:app", log, env) as url:
        # a client (cookies) per voter; their connections from one pool
        transport = httpx.HTTPTransport(
            limits=httpx.Limits(
                max_connections=VOTERS, max_keepalive_connections=VOTERS
            )
        )
        voters = [
            httpx.Client(base_url=url, timeout=60, transport=transport)
            for _ in range(VOTERS)
        ]
        try:
            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                forms = list(pool.map(lambda v: v.get(f"/polls/{question}/"), voters))
            assert {form.status_code for form in forms} == {200}
            tokens = [token(form) for form in forms]
            chosen = [tea if n % 3 == 0 else coffee for n in range(VOTERS)]
            answers: list[object] = [None] * VOTERS
            start = threading.Barrier(VOTERS)

            def vote(n: int) -> None:
                start.wait(timeout=60)
                try:
                    answers[n] = voters[n].post(
                        f"/polls/{question}/vote/",
                        data={"choice": str(chosen[n]), "csrf_token": tokens[n]},
                        headers={"origin": url},
                        follow_redirects=False,
                    )
                except httpx.HTTPError as exc:
                    answers[n] = exc

            threads = [threading.Thread(target=vote, args=(n,)) for n in range(VOTERS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)
            statuses = Counter(
                a.status_code if isinstance(a, httpx.Response) else repr(a)
                for a in answers
            )
            assert statuses == {303: VOTERS}, statuses
            page = voters[0].get(f"/polls/{question}/results/")
        finally:
            transport.close()
    counted = Counter(chosen)
    assert results(page) == [
        f"Tea -- {counted[tea]} votes",
        f"Coffee -- {counted[coffee]} votes",
    ]
    site = Site(polls, database_url.url_sync, "wsgi")
    try:
        assert site.votes() == {tea: counted[tea], coffee: counted[coffee]}
    finally:
        site.dispose()
    assert "Traceback" not in log.read_text()
