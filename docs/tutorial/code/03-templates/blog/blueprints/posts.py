"""The blog's pages: the list of posts, and each post."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from kettle import Blueprint
from kettle.db import get_or_404
from kettle.db import paginate
from kettle.templating import render

from ..models import Post

posts = Blueprint("posts")


@posts.get("/")
def index(db: Session, page: int = 1):
    newest_first = select(Post).order_by(Post.created_at.desc(), Post.id.desc())
    return render("posts/index.html", page=paginate(db, newest_first, page, per_page=5))


@posts.get("/{post_id:int}")
def show(post_id: int, db: Session):
    return render("posts/show.html", post=get_or_404(db, Post, post_id))
