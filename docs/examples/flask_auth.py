"""Flask-Login and Flask-WTF code, in Kettle: a login form, logging in and out,
pages for logged-in users only. The Flask original of each line is in its
comment; kettle.auth brings the users, their table and the password hashing
(no user_loader to write). ``Auth(app)`` would add ready-made login and logout
pages under /auth instead of the two written here."""

from sqlalchemy.orm import Session

from kettle import Kettle
from kettle import Request
from kettle import redirect
from kettle import url_for
from kettle.auth import User
from kettle.auth import authenticate
from kettle.auth import login
from kettle.auth import login_required
from kettle.auth import logout
from kettle.forms import Form
from kettle.forms import PasswordField
from kettle.forms import StringField
from kettle.security import safe_next
from kettle.templating import render

# login_manager = LoginManager(app); login_manager.login_view = "log_in"
app = Kettle(LOGIN_URL="log_in")  # SECRET_KEY, DATABASE_URL: settings, environment


class LoginForm(Form):  # class LoginForm(FlaskForm)
    # StringField("Name", validators=[DataRequired(), Length(max=150)])
    username = StringField("Name", max_length=150)
    password = PasswordField("Password")  # PasswordField(..., [DataRequired()])


@app.route("/login", methods=["GET", "POST"])
def log_in(request: Request, form: LoginForm, db: Session):
    if form.is_valid():  # form.validate_on_submit()
        user = authenticate(db, form.data["username"], form.data["password"])
        if user is not None:  # user.check_password(form.password.data)
            login(request, user, remember=True)  # login_user(user, remember=True)
            # redirect(request.args.get("next") or url_for("me")): here, checked
            return redirect(safe_next(request, url_for("me")), 303)
        form.add_error(None, "Wrong name or password.")
    return render("guides/login.html", form=form)  # render_template(...)


@app.post("/logout")
def log_out(request: Request):
    logout(request)  # logout_user()
    return redirect("log_in", 303)


@app.get("/me")
def me(user: User):  # current_user, and @login_required: no user, no page
    return {"name": user.username}


@app.get("/drafts")
@login_required  # @login_required, below the route decorator in both
def drafts():
    return {"drafts": []}


@app.get("/hello")
def hello(user: User | None):  # current_user.is_authenticated
    return f"Hello, {user.username if user else 'stranger'}!"
