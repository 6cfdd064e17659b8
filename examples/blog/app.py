"""The Flask tutorial's blog ("Flaskr") in Kettle: the same URLs, form fields and
behaviour, plus CSRF-checked forms and an optional picture per post.

Run it from this folder: ``kettle run`` (SQLite, ``blog.sqlite3`` beside this
file), then open http://127.0.0.1:8000/.
"""

import os
import re
import secrets
import uuid
from pathlib import Path

from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import select
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import Session
from sqlalchemy.orm import joinedload
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from kettle import Blueprint
from kettle import Form
from kettle import Kettle
from kettle import abort
from kettle import flash
from kettle import forms
from kettle import redirect
from kettle import request
from kettle import url_for
from kettle.auth import User
from kettle.auth import authenticate
from kettle.auth import current_user
from kettle.auth import login as log_in
from kettle.auth import logout as log_out
from kettle.db import PK
from kettle.db import Model
from kettle.db import Timestamps
from kettle.db import get_database
from kettle.files import FileResponse
from kettle.templating import render

HERE = Path(__file__).resolve().parent
INSTANCE = Path(os.environ.get("BLOG_INSTANCE", HERE / "instance"))
UPLOADS = INSTANCE / "uploads"


def _secret_key() -> str:
    """KETTLE_SECRET_KEY, or a key made once and kept in instance/ (development)."""
    key = os.environ.get("KETTLE_SECRET_KEY")
    if key:
        return key
    INSTANCE.mkdir(parents=True, exist_ok=True)
    path = INSTANCE / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
    return path.read_text().strip()


app = Kettle(
    SECRET_KEY=_secret_key(),
    DATABASE_URL=os.environ.get(
        "KETTLE_DATABASE_URL", f"sqlite:///{INSTANCE / 'blog.sqlite3'}"
    ),
    MAX_FILE_SIZE=2 * 1024 * 1024,
)


# -- models --------------------------------------------------------------------------


class Post(Timestamps, Model):
    id: Mapped[PK]
    author_id: Mapped[int] = mapped_column(ForeignKey("auth_user.id"))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    image: Mapped[str | None] = mapped_column(String(60))
    author: Mapped[User] = relationship()


@app.on_startup
def create_tables() -> None:
    INSTANCE.mkdir(parents=True, exist_ok=True)
    UPLOADS.mkdir(exist_ok=True)
    get_database(app).create_all()


@app.context_processor
def user_in_templates():
    return {"user": current_user}  # Flaskr's templates call it g.user


# -- auth: register, log in, log out (users and passwords from kettle.auth) ----------

auth = Blueprint("auth", url_prefix="/auth")


@auth.route("/register", methods=["GET", "POST"])
def register(db: Session, username: str = Form(""), password: str = Form("")):
    if request.method == "POST":
        error = None
        if not username:
            error = "Username is required."
        elif not password:
            error = "Password is required."
        elif len(username) > 150 or len(password) > 4096:
            error = "That username or password is too long."
        elif "\x00" in username:
            error = "That username holds a character that is not allowed."
        elif db.scalar(select(User.id).where(User.username == username)) is not None:
            error = f"User {username} is already registered."
        if error is None:
            db.add(User(username=username, password=password))  # hashed: Argon2id
            return redirect(url_for("auth.login"))
        flash(error, "error")
    return render("auth/register.html")


@auth.route("/login", methods=["GET", "POST"])
def login(db: Session, username: str = Form(""), password: str = Form("")):
    if request.method == "POST":
        # One message whether the name or the password is wrong (Flaskr tells
        # them apart, which tells anyone who has an account here).
        found = authenticate(db, username, password)
        if found is None:
            flash("Incorrect username or password.", "error")
        else:
            log_in(request, found)  # a new session for the logged-in user
            return redirect(url_for("blog.index"))
    return render("auth/login.html")


@auth.get("/logout")
def logout():
    log_out(request)
    return redirect(url_for("blog.index"))


# -- the blog ----------------------------------------------------------------------------

blog = Blueprint("blog")
IMAGE_TYPES = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
}


class PostForm(forms.Form):
    title = forms.StringField("Title", max_length=200)
    body = forms.TextField("Body", required=False)
    image = forms.FileField(
        "Picture",
        required=False,
        max_size=2 * 1024 * 1024,
        content_types=list(IMAGE_TYPES),
    )


def flash_errors(form: forms.Form) -> None:
    """Each problem as a flashed message, as Flaskr shows them."""
    for name, messages in form.errors.items():
        label = form[name].label if name else "Post"
        for message in messages:
            if message == "This field is required.":
                flash(f"{label} is required.", "error")
            else:
                flash(f"{label}: {message}", "error")


def save_image(upload) -> str | None:
    if upload is None:
        return None
    kind = upload.content_type.split(";", 1)[0].strip().lower()  # as checked
    name = f"{uuid.uuid4().hex}.{IMAGE_TYPES[kind]}"
    upload.file.seek(0)
    (UPLOADS / name).write_bytes(upload.file.read())
    return name


@blog.get("/")
def index(db: Session):
    posts = db.scalars(
        select(Post)
        .options(joinedload(Post.author))
        .order_by(Post.created_at.desc(), Post.id.desc())
    ).all()
    return render("blog/index.html", posts=posts)


def _like(text: str) -> str:
    """``text`` as a LIKE pattern that matches it anywhere, literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@blog.get("/search")
def search(db: Session, q: str = ""):
    """Posts whose title or body holds ``q`` (a bound parameter, never SQL)."""
    q = q.strip()[:100]
    posts = []
    if q:
        pattern = _like(q)
        posts = db.scalars(
            select(Post)
            .options(joinedload(Post.author))
            .where(
                Post.title.ilike(pattern, escape="\\")
                | Post.body.ilike(pattern, escape="\\")
            )
            .order_by(Post.created_at.desc(), Post.id.desc())
            .limit(50)
        ).all()
    return render("blog/search.html", posts=posts, q=q)


@blog.route("/create", methods=["GET", "POST"])
def create(form: PostForm, db: Session, user: User):
    if form.is_bound:
        if form.is_valid():
            data = form.data
            db.add(
                Post(
                    title=data["title"],
                    body=data["body"] or "",
                    author_id=user.id,
                    image=save_image(data["image"]),
                )
            )
            return redirect(url_for("blog.index"))
        flash_errors(form)
    return render("blog/create.html", form=form)


def get_post(db: Session, id: int, user: User, check_author: bool = True) -> Post:
    post = db.get(Post, id)
    if post is None:
        abort(404, f"Post id {id} doesn't exist.")
    if check_author and post.author_id != user.id:
        abort(403)
    return post


@blog.route("/{id:int}/update", methods=["GET", "POST"])
def update(id: int, form: PostForm, db: Session, user: User):
    post = get_post(db, id, user)
    if form.is_bound:
        if form.is_valid():
            post.title = form.data["title"]
            post.body = form.data["body"] or ""
            image = save_image(form.data["image"])
            if image is not None:
                post.image = image
            return redirect(url_for("blog.index"))
        flash_errors(form)
    else:
        form = PostForm(initial={"title": post.title, "body": post.body})
    return render("blog/update.html", post=post, form=form)


@blog.post("/{id:int}/delete")
def delete(id: int, db: Session, user: User):
    db.delete(get_post(db, id, user))
    return redirect(url_for("blog.index"))


_UPLOAD_NAME = re.compile(r"^[0-9a-f]{32}\.(png|jpg|gif|webp)$")


@blog.get("/uploads/{name}")
def uploaded(name: str):
    if not _UPLOAD_NAME.match(name):
        abort(404)
    return FileResponse(
        UPLOADS / name, headers={"cache-control": "public, max-age=86400"}
    )


app.register_blueprint(auth)
app.register_blueprint(blog)
