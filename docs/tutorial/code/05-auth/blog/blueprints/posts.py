"""The blog's pages: the list of posts, each post, and writing them."""

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import joinedload

from kettle import Blueprint
from kettle import abort
from kettle import flash
from kettle import redirect
from kettle.auth import User
from kettle.db import get_or_404
from kettle.db import paginate
from kettle.forms import initial_from
from kettle.forms import populate
from kettle.templating import render

from ..forms import PostForm
from ..models import Post

posts = Blueprint("posts")


@posts.get("/")
def index(db: Session, page: int = 1):
    newest_first = (
        select(Post)
        .options(joinedload(Post.author))  # the authors, in the same query
        .order_by(Post.created_at.desc(), Post.id.desc())
    )
    return render("posts/index.html", page=paginate(db, newest_first, page, per_page=5))


@posts.get("/{post_id:int}")
def show(post_id: int, db: Session):
    return render("posts/show.html", post=get_or_404(db, Post, post_id))


@posts.route("/new", methods=["GET", "POST"])
def create(form: PostForm, db: Session, user: User):  # logged-in users only
    if form.is_valid():
        post = populate(form, Post(author=user))
        db.add(post)
        db.flush()
        flash("Post published.")
        return redirect("posts.show", 303, post_id=post.id)
    return render("posts/form.html", form=form, title="New post")


def own_post(db: Session, post_id: int, user: User) -> Post:
    """The post, if ``user`` wrote it: else 404 (no such post) or 403."""
    post = get_or_404(db, Post, post_id)
    if post.author_id != user.id:
        abort(403, "Only its author may change this post.")
    return post


@posts.route("/{post_id:int}/edit", methods=["GET", "POST"])
def edit(post_id: int, form: PostForm, db: Session, user: User):
    post = own_post(db, post_id, user)
    if form.is_valid():
        populate(form, post)
        flash("Post saved.")
        return redirect("posts.show", 303, post_id=post.id)
    if not form.is_bound:
        form = PostForm(initial=initial_from(post, PostForm))
    return render("posts/form.html", form=form, title=f"Edit “{post.title}”")


@posts.post("/{post_id:int}/delete")
def delete(post_id: int, db: Session, user: User):
    db.delete(own_post(db, post_id, user))
    flash("Post deleted.")
    return redirect("posts.index", 303)
