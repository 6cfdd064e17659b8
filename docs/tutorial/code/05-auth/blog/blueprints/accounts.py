"""Registering. Logging in and out are kettle.auth's pages, under /auth."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from kettle import Blueprint
from kettle import Request
from kettle import flash
from kettle import redirect
from kettle.auth import User
from kettle.auth import login
from kettle.templating import render

from ..forms import RegisterForm

accounts = Blueprint("accounts")


@accounts.route("/register", methods=["GET", "POST"])
def register(request: Request, form: RegisterForm, db: Session):
    if form.is_valid():
        name = form.data["username"]
        if db.scalar(select(User.id).where(User.username == name)) is not None:
            form.add_error("username", f"The name {name} is taken.")
        else:
            user = User(username=name, password=form.data["password"])  # hashed
            db.add(user)
            db.flush()  # user.id is known
            login(request, user)  # a new session, for the new user
            flash(f"Welcome, {name}!")
            return redirect("posts.index", 303)
    return render("accounts/register.html", form=form)
