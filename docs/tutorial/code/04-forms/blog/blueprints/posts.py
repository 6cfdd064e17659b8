"""The blog's pages: the list of posts, each post, and writing them."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from kettle import Blueprint
from kettle import flash
from kettle import redirect
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
    newest_first = select(Post).order_by(Post.created_at.desc(), Post.id.desc())
    return render("posts/index.html", page=paginate(db, newest_first, page, per_page=5))


@posts.get("/{post_id:int}")
def show(post_id: int, db: Session):
    return render("posts/show.html", post=get_or_404(db, Post, post_id))


@posts.route("/new", methods=["GET", "POST"])
def create(form: PostForm, db: Session):
    if form.is_valid():  # False on a GET: the form is not bound
        post = populate(form, Post())
        db.add(post)
        db.flush()  # the INSERT, now: post.id is known
        flash("Post published.")
        return redirect("posts.show", 303, post_id=post.id)
    return render("posts/form.html", form=form, title="New post")


@posts.route("/{post_id:int}/edit", methods=["GET", "POST"])
def edit(post_id: int, form: PostForm, db: Session):
    post = get_or_404(db, Post, post_id)
    if form.is_valid():
        populate(form, post)  # committed when the handler returns
        flash("Post saved.")
        return redirect("posts.show", 303, post_id=post.id)
    if not form.is_bound:  # a GET: the form shows the post
        form = PostForm(initial=initial_from(post, PostForm))
    return render("posts/form.html", form=form, title=f"Edit “{post.title}”")


@posts.post("/{post_id:int}/delete")
def delete(post_id: int, db: Session):
    db.delete(get_or_404(db, Post, post_id))
    flash("Post deleted.")
    return redirect("posts.index", 303)
