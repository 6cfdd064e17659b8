"""Users, logging in, the current user, permissions."""

from sqlalchemy import String
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import Session
from sqlalchemy.orm import mapped_column

from kettle import Kettle
from kettle.auth import Auth
from kettle.auth import User
from kettle.auth import login_required
from kettle.auth import permission_required
from kettle.db import Model
from kettle.db import get_or_404

app = Kettle()  # SECRET_KEY and DATABASE_URL from the settings or environment
Auth(app)  # /auth/login and /auth/logout


class Story(Model):
    __permissions__ = {"publish": "Can publish stories"}  # "story.publish"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    published: Mapped[bool] = mapped_column(default=False)


@app.get("/me")
def me(user: User):  # the logged-in user; anonymous: 401, or the login page
    return {"username": user.username, "staff": user.is_staff}


@app.get("/hello")
async def hello(user: User | None):  # None when nobody is logged in
    return f"Hello, {user.username if user else 'stranger'}!"


@app.get("/drafts")
@login_required  # below the route decorator
def drafts():
    return {"drafts": []}


@app.post("/stories/{id:int}/publish")
@permission_required("story.publish")
def publish(id: int, db: Session):
    get_or_404(db, Story, id).published = True
    return {"published": id}


@app.delete("/stories/{id:int}")
@permission_required("story.delete")  # every model has view/add/change/delete
async def delete(id: int, db: AsyncSession):
    await db.delete(await get_or_404(db, Story, id))
    return {"deleted": id}
