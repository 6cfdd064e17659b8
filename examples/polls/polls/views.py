"""The views of Django's tutorial, parts 3 to 5: the latest questions, a
question with its voting form, its results, and the vote."""

from __future__ import annotations

import re
from typing import Any
from typing import cast

from sqlalchemy import CursorResult
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from kettle import Form
from kettle import Response
from kettle import abort
from kettle import redirect
from kettle.db import first_or_404
from kettle.templating import render

from . import bp
from .models import Choice
from .models import Question
from .models import now

#: The largest key an INTEGER column holds on every database (a larger number
#: in a URL or a form names no row, and must not reach the database as one).
MAX_KEY = 2**31 - 1
_KEY = re.compile(r"[0-9]{1,10}")  # ASCII digits only: int() takes others too


def published(question_id: int, db: Session) -> Question:
    """The question, or 404 when there is none or it is not published yet
    (Django's ``get_queryset`` of the tutorial's part 5)."""
    if question_id > MAX_KEY:
        abort(404)
    return first_or_404(
        db,
        select(Question).where(Question.id == question_id, Question.pub_date <= now()),
    )


@bp.get("/")
def index(db: Session) -> Response:
    """The last five published questions (not those to be published later)."""
    latest_question_list = db.scalars(
        select(Question)
        .where(Question.pub_date <= now())
        .order_by(Question.pub_date.desc(), Question.id.desc())
        .limit(5)
    ).all()
    return render("polls/index.html", latest_question_list=latest_question_list)


@bp.get("/{question_id:int}/")
def detail(question_id: int, db: Session) -> Response:
    question = published(question_id, db)
    return render("polls/detail.html", question=question)


@bp.get("/{question_id:int}/results/")
def results(question_id: int, db: Session) -> Response:
    question = published(question_id, db)
    return render("polls/results.html", question=question)


@bp.post("/{question_id:int}/vote/")
def vote(question_id: int, db: Session, choice: str = Form("")) -> Response:
    """One more vote for the chosen choice, counted by the database itself
    (``votes = votes + 1``, Django's ``F("votes") + 1``): votes sent at the same
    moment are all counted, none overwrites another."""
    question = published(question_id, db)
    if not choice:
        # Django's tutorial shows the form again, with a 200.
        return detail_again(question, "You didn't select a choice.", 200)
    choice_id = int(choice) if _KEY.fullmatch(choice) else MAX_KEY + 1
    counted = 0
    if choice_id <= MAX_KEY:
        done = db.execute(
            update(Choice)
            .where(Choice.id == choice_id, Choice.question_id == question.id)
            .values(votes=Choice.votes + 1)
            .execution_options(synchronize_session=False)
        )
        counted = cast("CursorResult[Any]", done).rowcount
    if not counted:  # not a number, or not a choice of this question
        return detail_again(question, "That is not one of this question's choices.")
    # Redirect after a POST, so that Back or Reload does not vote twice.
    return redirect("polls.results", 303, question_id=question.id)


def detail_again(question: Question, error_message: str, status: int = 400) -> Response:
    """The voting form again, saying what was wrong."""
    response = render(
        "polls/detail.html", question=question, error_message=error_message
    )
    response.status_code = status
    return response
