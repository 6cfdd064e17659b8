"""Conduit: the backend of the RealWorld example app ("the mother of all demo
apps"), in Kettle. Its JSON API, under ``/api``, follows the published RealWorld
specification: endpoints, JSON shapes, status codes, the ``{"errors": {...}}``
error format and ``Authorization: Token <jwt>``, so any RealWorld front end can
use it.

Run it from this folder: ``kettle run`` (SQLite, ``instance/conduit.sqlite3``),
then try http://127.0.0.1:8000/api/articles or the API's pages at
http://127.0.0.1:8000/docs. See README.md.
"""

import base64
import binascii
import datetime
import hashlib
import hmac
import json
import math
import os
import re
import secrets
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated
from typing import Any

from pydantic import AfterValidator
from pydantic import BaseModel
from pydantic import Field
from pydantic import StringConstraints
from pydantic_core import PydanticCustomError
from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import Session
from sqlalchemy.orm import joinedload
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship
from sqlalchemy.orm import selectinload

from kettle import Blueprint
from kettle import Depends
from kettle import Header
from kettle import HTTPException
from kettle import Kettle
from kettle import Query
from kettle import Request
from kettle import current_app
from kettle.auth import throttle
from kettle.auth.hashers import check_password
from kettle.auth.hashers import hash_password
from kettle.auth.hashers import needs_rehash
from kettle.db import PK
from kettle.db import Model
from kettle.db import get_database
from kettle.exceptions import RequestValidationError
from kettle.middleware import CORSMiddleware

HERE = Path(__file__).resolve().parent
INSTANCE = Path(os.environ.get("CONDUIT_INSTANCE", HERE / "instance"))
#: How long a token from a login or a registration is good for (seconds).
TOKEN_LIFETIME = 30 * 24 * 3600


# -- models ------------------------------------------------------------------------
# Table names start with "conduit_": Kettle's models share one metadata.

#: A time in UTC, to the microsecond on MySQL and MariaDB too (their DATETIME
#: keeps whole seconds unless told otherwise).
Moment = DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def exact_string(length: int) -> Any:
    """A string compared exactly on every database (MySQL's and MariaDB's usual
    collations ignore case and accents: "Café" would equal "cafe" there only)."""
    exact = mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_bin")
    return String(length).with_variant(exact, "mysql", "mariadb")


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _created_at(context: Any) -> Any:
    """A new row's ``updated_at``: its ``created_at``, to the microsecond."""
    return context.get_current_parameters()["created_at"]


class Times:
    """``created_at`` and ``updated_at``, as kettle.db's ``Timestamps`` but with
    fractions of a second on every database (what the API answers when it writes
    a row is what it shows later), and equal in a new row."""

    created_at: Mapped[datetime.datetime] = mapped_column(Moment, default=_now)
    updated_at: Mapped[datetime.datetime] = mapped_column(
        Moment, default=_created_at, onupdate=_now
    )


class User(Model):
    __tablename__ = "conduit_user"

    id: Mapped[PK]
    email: Mapped[str] = mapped_column(exact_string(254), unique=True)  # lower-cased
    username: Mapped[str] = mapped_column(exact_string(40), unique=True)
    password: Mapped[str] = mapped_column(String(255))  # an Argon2id hash
    bio: Mapped[str | None] = mapped_column(Text)
    image: Mapped[str | None] = mapped_column(String(2000))
    #: In every token; a password change bumps it, which ends the older tokens.
    token_version: Mapped[int] = mapped_column(default=0)


class Follow(Model):
    __tablename__ = "conduit_follow"

    follower_id: Mapped[int] = mapped_column(
        ForeignKey(User.id, ondelete="CASCADE"), primary_key=True
    )
    followed_id: Mapped[int] = mapped_column(
        ForeignKey(User.id, ondelete="CASCADE"), primary_key=True, index=True
    )


class Tag(Model):
    __tablename__ = "conduit_tag"

    id: Mapped[PK]
    name: Mapped[str] = mapped_column(exact_string(50), unique=True)  # lower-cased


class ArticleTag(Model):
    """An article's tag, at its place in the article's ``tagList``."""

    __tablename__ = "conduit_article_tag"

    article_id: Mapped[int] = mapped_column(
        ForeignKey("conduit_article.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[int] = mapped_column(
        ForeignKey(Tag.id, ondelete="CASCADE"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(default=0)
    tag: Mapped[Tag] = relationship(Tag)


class Article(Times, Model):
    __tablename__ = "conduit_article"

    id: Mapped[PK]
    slug: Mapped[str] = mapped_column(exact_string(255), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int] = mapped_column(
        ForeignKey(User.id, ondelete="CASCADE"), index=True
    )
    author: Mapped[User] = relationship(User)
    tag_links: Mapped[list[ArticleTag]] = relationship(
        ArticleTag, order_by=ArticleTag.position, cascade="all, delete-orphan"
    )


class Favorite(Model):
    __tablename__ = "conduit_favorite"

    user_id: Mapped[int] = mapped_column(
        ForeignKey(User.id, ondelete="CASCADE"), primary_key=True
    )
    article_id: Mapped[int] = mapped_column(
        ForeignKey(Article.id, ondelete="CASCADE"), primary_key=True, index=True
    )


class Comment(Times, Model):
    __tablename__ = "conduit_comment"

    id: Mapped[PK]
    article_id: Mapped[int] = mapped_column(
        ForeignKey(Article.id, ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int] = mapped_column(ForeignKey(User.id, ondelete="CASCADE"))
    body: Mapped[str] = mapped_column(Text)
    author: Mapped[User] = relationship(User)


#: This app's tables, parents first: what start-up creates (and tests drop).
TABLES = [
    m.__table__ for m in (User, Follow, Tag, Article, ArticleTag, Favorite, Comment)
]


# -- errors: {"errors": {"<field>": ["<message>", ...]}} -----------------------------


class ApiError(HTTPException):
    """An error answered in the RealWorld format."""

    def __init__(
        self,
        status: int,
        field: str,
        message: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status, {"errors": {field: [message]}}, headers)


def not_found(what: str) -> ApiError:
    return ApiError(404, what, "not found")


def forbidden(what: str) -> ApiError:
    return ApiError(403, what, "can only be changed by its author")


def invalid(errors: dict[str, list[str]]) -> HTTPException:
    """A 422 listing problems found by the handler (a name that is taken...)."""
    return HTTPException(422, {"errors": errors})


_SOURCES = {"body", "query", "path", "header", "cookie"}
_ENVELOPES = {"user", "article", "comment"}  # {"user": {...}} and the like


def _field(loc: list[Any]) -> str:
    """The field a pydantic error is about: ``["body", "user", "email"]`` is
    ``email``, ``["query", "limit"]`` is ``limit``, ``["body"]`` is ``body``."""
    names = [part for part in loc if isinstance(part, str)]
    if names and names[0] in _SOURCES and len(names) > 1:
        names = names[1:]
    if len(names) > 1 and names[0] in _ENVELOPES:
        names = names[1:]
    return names[0] if names else "body"


def _message(error: dict[str, Any]) -> str:
    """Pydantic's error, worded as RealWorld's (Rails') messages are."""
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    if kind in ("missing", "string_too_short"):
        return "can't be empty"
    if kind == "string_too_long":
        return f"is too long (maximum is {ctx.get('max_length')} characters)"
    if kind == "too_long":
        return f"has too many items (maximum is {ctx.get('max_length')})"
    if kind == "string_type":
        return "must be a string"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "must be an integer"
    if kind == "greater_than_equal":
        return f"must be greater than or equal to {ctx.get('ge')}"
    if kind == "less_than_equal":
        return f"must be less than or equal to {ctx.get('le')}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "must be an object"
    if kind == "list_type":
        return "must be a list"
    if kind == "json_invalid":
        return "is not valid JSON"
    return "is invalid"


def spec_errors(errors: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Kettle's (FastAPI's) list of validation errors as RealWorld's mapping."""
    found: dict[str, list[str]] = {}
    for error in errors:
        messages = found.setdefault(_field(list(error.get("loc", ()))), [])
        message = _message(error)
        if message not in messages:
            messages.append(message)
    return found


def validation_error(exc: RequestValidationError) -> tuple[dict[str, Any], int]:
    return {"errors": spec_errors(exc.errors)}, 422


def http_error(exc: HTTPException) -> tuple[dict[str, Any], int]:
    """Every other error (ours, a 404 for an unknown path, a 405, a 415...) in the
    same format; a message that names no field goes under ``body``, as in the
    specification's ``GenericErrorModel``."""
    detail = exc.detail
    if isinstance(detail, dict) and isinstance(detail.get("errors"), dict):
        return detail, exc.status_code
    return {"errors": {"body": [str(detail)]}}, exc.status_code


def server_error(exc: Exception) -> tuple[dict[str, Any], int]:
    """An unexpected error (logged by Kettle with its traceback) in the same
    format; in debug mode, Kettle's page with the traceback instead."""
    if current_app.debug:
        raise exc
    return {"errors": {"body": ["Internal Server Error"]}}, 500


# -- tokens: JSON Web Tokens, HS256 over SECRET_KEY ----------------------------------


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


_B64URL = re.compile(r"[A-Za-z0-9_-]*")


def _b64decode(text: str) -> bytes:
    if not _B64URL.fullmatch(text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _json(data: dict[str, Any]) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


_JWT_HEADER = _b64encode(_json({"alg": "HS256", "typ": "JWT"}))


def _sign(key: bytes, signing_input: str) -> bytes:
    return hmac.new(key, signing_input.encode("ascii"), hashlib.sha256).digest()


def make_token(key: bytes, claims: dict[str, Any]) -> str:
    """A compact JWS (RFC 7515) of ``claims``, signed with HMAC-SHA256."""
    signing_input = f"{_JWT_HEADER}.{_b64encode(_json(claims))}"
    return f"{signing_input}.{_b64encode(_sign(key, signing_input))}"


def read_token(
    key: bytes, token: str, now: float | None = None
) -> dict[str, Any] | None:
    """The claims of a token this app signed and that has not expired, or None.

    Only HS256 is accepted (never ``none``, never another algorithm named by the
    token itself), the signature is compared in constant time before the
    claims are parsed, and ``exp`` (a number of seconds) is required."""
    parts = token.split(".")
    if len(token) > 2000 or len(parts) != 3:
        return None
    try:
        header = json.loads(_b64decode(parts[0]))
        signature = _b64decode(parts[2])
        if not isinstance(header, dict) or header.get("alg") != "HS256":
            return None
        if "crit" in header:  # extensions this code does not know
            return None
        if not hmac.compare_digest(_sign(key, f"{parts[0]}.{parts[1]}"), signature):
            return None
        claims = json.loads(_b64decode(parts[1]))
    except (ValueError, UnicodeError, binascii.Error):
        return None
    if not isinstance(claims, dict):
        return None
    expires = claims.get("exp")
    if type(expires) not in (int, float) or not math.isfinite(expires):
        return None
    if expires <= (time.time() if now is None else now):
        return None
    return claims


def _key() -> bytes:
    return str(current_app.config["SECRET_KEY"]).encode()


def token_for(user: User) -> str:
    now = int(time.time())
    lifetime = current_app.config.get_int("CONDUIT_TOKEN_LIFETIME")
    claims = {
        "sub": str(user.id),
        "username": user.username,
        "ver": user.token_version,
        "iat": now,
        "exp": now + lifetime,
    }
    return make_token(_key(), claims)


@dataclass
class Caller:
    """Who sent the request: the user, and the token they sent."""

    user: User
    token: str


def _unauthorized(message: str) -> ApiError:
    return ApiError(
        401, "token", message, {"www-authenticate": 'Token realm="conduit"'}
    )


def maybe_caller(
    db: Session,
    authorization: Annotated[
        str | None, Header(description="`Token <jwt>` (or `Bearer <jwt>`).")
    ] = None,
) -> Caller | None:
    """The caller, from ``Authorization: Token <jwt>`` (``Bearer`` is accepted
    too); None without the header. A token that is malformed, forged, expired,
    or older than its user's last password change is a 401, even where a login
    is optional: the client should drop it."""
    if authorization is None or not authorization.strip():
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() not in ("token", "bearer") or not token:
        raise _unauthorized("must be sent as 'Authorization: Token <jwt>'")
    claims = read_token(_key(), token)
    subject = claims.get("sub") if claims else None
    if not isinstance(subject, str) or not re.fullmatch(r"[0-9]{1,18}", subject):
        raise _unauthorized("is invalid or expired")
    user = db.get(User, int(subject))
    if user is None or claims is None or claims.get("ver") != user.token_version:
        raise _unauthorized("is invalid or expired")
    return Caller(user, token)


def caller(found: Annotated[Caller | None, Depends(maybe_caller)]) -> Caller:
    """The caller; a 401 without a token."""
    if found is None:
        raise _unauthorized("is missing: send 'Authorization: Token <jwt>'")
    return found


Me = Annotated[Caller, Depends(caller)]
MaybeMe = Annotated[Caller | None, Depends(maybe_caller)]


# -- what comes in -----------------------------------------------------------------


def _no_nul(value: str) -> str:
    """Refuse the NUL character (PostgreSQL cannot store it in text)."""
    if "\x00" in value:
        raise PydanticCustomError("nul_character", "contains a NUL character")
    return value


NoNul = AfterValidator(_no_nul)


def _text(max_length: int) -> Any:
    """A string trimmed of surrounding blanks, not empty, at most ``max_length``."""
    return Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length),
        NoNul,
    ]


Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        to_lower=True,
        min_length=1,
        max_length=254,
        pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
    ),
    NoNul,
]
#: Letters, digits, "_", "-" and ".": a username is part of URLs (/profiles/...).
Username = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.-]+$"
    ),
]
Password = Annotated[str, StringConstraints(min_length=1, max_length=4096)]  # hashed
MIN_PASSWORD = 8
Bio = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000), NoNul]
#: An image URL (http or https), or "" for none.
Image = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, max_length=2000, pattern=r"^(https?://\S+)?$"
    ),
    NoNul,
]
TagName = Annotated[
    str, StringConstraints(strip_whitespace=True, to_lower=True, max_length=50), NoNul
]
TagList = Annotated[list[TagName], Field(max_length=20)]
Title = _text(200)
Description = _text(1000)
ArticleBody = _text(100_000)
CommentBody = _text(10_000)


class LoginUser(BaseModel):
    email: Email
    password: Password


class LoginRequest(BaseModel):
    user: LoginUser


class NewUser(BaseModel):
    username: Username
    email: Email
    password: Password


class NewUserRequest(BaseModel):
    user: NewUser


class UpdateUser(BaseModel):
    """Each field is optional; a blank or null password leaves it unchanged."""

    email: Email | None = None
    username: Username | None = None
    password: Annotated[str, StringConstraints(max_length=4096)] | None = None
    bio: Bio | None = None
    image: Image | None = None


class UpdateUserRequest(BaseModel):
    user: UpdateUser


class NewArticle(BaseModel):
    title: Title
    description: Description
    body: ArticleBody
    tagList: TagList | None = None


class NewArticleRequest(BaseModel):
    article: NewArticle


class UpdateArticle(BaseModel):
    """Each field is optional; ``tagList``, not in the specification, replaces
    the tags when given."""

    title: Title | None = None
    description: Description | None = None
    body: ArticleBody | None = None
    tagList: TagList | None = None


class UpdateArticleRequest(BaseModel):
    article: UpdateArticle


class NewComment(BaseModel):
    body: CommentBody


class NewCommentRequest(BaseModel):
    comment: NewComment


# -- what goes out -----------------------------------------------------------------

Timestamp = Annotated[
    str,
    Field(
        json_schema_extra={"format": "date-time"}, examples=["2016-02-18T03:22:56.637Z"]
    ),
]


class Profile(BaseModel):
    username: str
    bio: str | None
    image: str | None
    following: bool


class ProfileResponse(BaseModel):
    profile: Profile


class UserOut(BaseModel):
    email: str
    token: str
    username: str
    bio: str | None
    image: str | None


class UserResponse(BaseModel):
    user: UserOut


class ArticleOut(BaseModel):
    slug: str
    title: str
    description: str
    body: str
    tagList: list[str]
    createdAt: Timestamp
    updatedAt: Timestamp
    favorited: bool
    favoritesCount: int
    author: Profile


class SingleArticleResponse(BaseModel):
    article: ArticleOut


class ArticleInList(BaseModel):
    """An article in a list: without its body (since the specification's change
    of 2024-08-16)."""

    slug: str
    title: str
    description: str
    tagList: list[str]
    createdAt: Timestamp
    updatedAt: Timestamp
    favorited: bool
    favoritesCount: int
    author: Profile


class MultipleArticlesResponse(BaseModel):
    articles: list[ArticleInList]
    articlesCount: int = Field(description="Articles matching, on all pages.")


class CommentOut(BaseModel):
    id: int
    createdAt: Timestamp
    updatedAt: Timestamp
    body: str
    author: Profile


class SingleCommentResponse(BaseModel):
    comment: CommentOut


class MultipleCommentsResponse(BaseModel):
    comments: list[CommentOut]


class TagsResponse(BaseModel):
    tags: list[str]


def timestamp(value: datetime.datetime) -> str:
    """ISO 8601 in UTC with milliseconds, as the specification shows it:
    ``2016-02-18T03:22:56.637Z`` (SQLite gives times back without a zone)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.UTC)
    value = value.astimezone(datetime.UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def profile(user: User, following: bool) -> dict[str, Any]:
    return {
        "username": user.username,
        "bio": user.bio,
        "image": user.image,
        "following": following,
    }


def user_out(user: User, token: str) -> dict[str, Any]:
    return {
        "user": {
            "email": user.email,
            "token": token,
            "username": user.username,
            "bio": user.bio,
            "image": user.image,
        }
    }


def followed_among(db: Session, me: Caller | None, user_ids: set[int]) -> set[int]:
    """Which of ``user_ids`` the caller follows (one query, none when anonymous)."""
    if me is None or not user_ids:
        return set()
    rows = db.scalars(
        select(Follow.followed_id).where(
            Follow.follower_id == me.user.id, Follow.followed_id.in_(user_ids)
        )
    )
    return set(rows)


def articles_out(
    db: Session, me: Caller | None, articles: list[Article], *, with_body: bool
) -> list[dict[str, Any]]:
    """The articles as the API shows them, their authors, tags, favorite counts
    and the caller's favorites and follows read in a few queries for them all."""
    ids = [article.id for article in articles]
    counts: dict[int, int] = {}
    mine: set[int] = set()
    if ids:
        counts = {
            article_id: count
            for article_id, count in db.execute(
                select(Favorite.article_id, func.count())
                .where(Favorite.article_id.in_(ids))
                .group_by(Favorite.article_id)
            )
        }
        if me is not None:
            mine = set(
                db.scalars(
                    select(Favorite.article_id).where(
                        Favorite.user_id == me.user.id, Favorite.article_id.in_(ids)
                    )
                )
            )
    following = followed_among(db, me, {article.author_id for article in articles})
    found = []
    for article in articles:
        item: dict[str, Any] = {
            "slug": article.slug,
            "title": article.title,
            "description": article.description,
        }
        if with_body:
            item["body"] = article.body
        item.update(
            tagList=[link.tag.name for link in article.tag_links],
            createdAt=timestamp(article.created_at),
            updatedAt=timestamp(article.updated_at),
            favorited=article.id in mine,
            favoritesCount=counts.get(article.id, 0),
            author=profile(article.author, article.author_id in following),
        )
        found.append(item)
    return found


def article_out(db: Session, me: Caller | None, article: Article) -> dict[str, Any]:
    return {"article": articles_out(db, me, [article], with_body=True)[0]}


def comments_out(
    db: Session, me: Caller | None, comments: list[Comment]
) -> list[dict[str, Any]]:
    following = followed_among(db, me, {comment.author_id for comment in comments})
    return [
        {
            "id": comment.id,
            "createdAt": timestamp(comment.created_at),
            "updatedAt": timestamp(comment.updated_at),
            "body": comment.body,
            "author": profile(comment.author, comment.author_id in following),
        }
        for comment in comments
    ]


# -- lookups -----------------------------------------------------------------------


def _loaded(statement: Any) -> Any:
    """``select(Article)`` with what :func:`articles_out` reads loaded at once."""
    return statement.options(
        joinedload(Article.author),
        selectinload(Article.tag_links).joinedload(ArticleTag.tag),
    )


def find_article(db: Session, slug: str) -> Article:
    if "\x00" in slug:
        raise not_found("article")
    article = db.scalar(_loaded(select(Article).where(Article.slug == slug)))
    if article is None:
        raise not_found("article")
    return article


def by_username(username: str) -> Any:
    """A condition on ``User``: this username, in any case (usernames are
    unique whatever their case, on every database)."""
    return func.lower(User.username) == username.lower()


def find_user(db: Session, username: str) -> User:
    if "\x00" in username:
        raise not_found("profile")
    user = db.scalar(select(User).where(by_username(username)))
    if user is None:
        raise not_found("profile")
    return user


def taken(
    db: Session, email: str | None, username: str | None, but: int | None = None
) -> dict[str, list[str]]:
    """Which of an email address and a username another user has."""
    errors: dict[str, list[str]] = {}
    checks = (
        ("email", User.email == email, email),
        ("username", by_username(username or ""), username),
    )
    for field, condition, value in checks:
        if value is None:
            continue
        query = select(User.id).where(condition)
        if but is not None:
            query = query.where(User.id != but)
        if db.scalar(query.limit(1)) is not None:
            errors[field] = ["has already been taken"]
    return errors


def check_password_rules(password: str, errors: dict[str, list[str]]) -> None:
    if len(password) < MIN_PASSWORD:
        errors.setdefault("password", []).append(
            f"is too short (minimum is {MIN_PASSWORD} characters)"
        )


def slugify(title: str) -> str:
    """``How to train your dragon?`` -> ``how-to-train-your-dragon``: ASCII
    letters and digits in lower case, joined by hyphens (``article`` if none)."""
    ascii_title = (
        unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    )
    words = re.findall(r"[a-z0-9]+", ascii_title.lower())
    return "-".join(words)[:200].strip("-") or "article"


def unique_slug(db: Session, title: str, but: int | None = None) -> str:
    """The title's slug, with ``-2``, ``-3``... appended if another article has
    it. (Two articles written at the same instant may still pick the same one:
    the unique index then refuses the second, with a 409.)"""
    base = slugify(title)
    query = select(Article.slug).where(
        (Article.slug == base) | Article.slug.like(f"{base}-%")
    )
    if but is not None:
        query = query.where(Article.id != but)
    used = set(db.scalars(query))
    if base not in used:
        return base
    number = 2
    while f"{base}-{number}" in used:
        number += 1
    return f"{base}-{number}"


def set_tags(db: Session, article: Article, names: list[str]) -> None:
    """Give the article these tags, in this order (blanks and repeats dropped);
    new tags are made."""
    wanted = list(dict.fromkeys(name for name in names if name))
    tags: dict[str, Tag] = {}
    if wanted:
        tags = {t.name: t for t in db.scalars(select(Tag).where(Tag.name.in_(wanted)))}
    for name in wanted:
        if name not in tags:
            tags[name] = Tag(name=name)
            db.add(tags[name])
    db.flush()  # the new tags' ids
    current = {}
    if article.id is not None:  # an article in the database: its links
        current = {link.tag_id: link for link in article.tag_links}
    links: list[ArticleTag] = []
    for position, name in enumerate(wanted):
        tag = tags[name]
        link = current.pop(tag.id, None) or ArticleTag(tag_id=tag.id, tag=tag)
        link.position = position
        links.append(link)
    article.tag_links = links  # links left out are deleted (delete-orphan)


# -- the API -----------------------------------------------------------------------

api = Blueprint("api", url_prefix="/api")
Limit = Annotated[int, Query(ge=1, le=100, description="Articles per page (20).")]
Offset = Annotated[int, Query(ge=0, description="Articles to skip (0).")]


def filter_query(max_length: int, description: str) -> Any:
    """A query parameter filtering articles (no NUL: PostgreSQL refuses it)."""
    return Query(max_length=max_length, pattern=r"^[^\x00]*$", description=description)


@api.post("/users/login", tags=["User and Authentication"])
def login(body: LoginRequest, db: Session, request: Request) -> UserResponse:
    """Log in: a user and a new token."""
    email, password = body.user.email, body.user.password
    wait = throttle.attempt(request, email)
    if wait:
        raise ApiError(
            429,
            "email or password",
            throttle.wait_message(wait),
            {"retry-after": str(max(1, round(wait)))},
        )
    user = db.scalar(select(User).where(User.email == email))
    # Checked against a dummy hash for an unknown address: the same time.
    if not check_password(password, user.password if user else None) or user is None:
        raise ApiError(401, "email or password", "is invalid")
    if needs_rehash(user.password):
        user.password = hash_password(password)
    throttle.succeeded(request, email)
    return user_out(user, token_for(user))


@api.post("/users", tags=["User and Authentication"], status_code=201)
def register(body: NewUserRequest, db: Session) -> UserResponse:
    """Register: the new user and a token."""
    new = body.user
    errors = taken(db, new.email, new.username)
    check_password_rules(new.password, errors)
    if errors:
        raise invalid(errors)
    user = User(
        email=new.email, username=new.username, password=hash_password(new.password)
    )
    db.add(user)
    db.flush()  # its id, for the token
    return user_out(user, token_for(user))


@api.get("/user", tags=["User and Authentication"])
def current_user(me: Me) -> UserResponse:
    """The logged-in user, with the token they sent."""
    return user_out(me.user, me.token)


@api.put("/user", tags=["User and Authentication"])
def update_user(body: UpdateUserRequest, me: Me, db: Session) -> UserResponse:
    """Change the logged-in user. A new password ends their other tokens: the
    answer carries a new one."""
    changes = body.user
    if not changes.model_fields_set:
        raise invalid({"user": ["can't be empty"]})
    user, token = me.user, me.token
    errors = taken(db, changes.email, changes.username, but=user.id)
    if changes.password:
        check_password_rules(changes.password, errors)
    if errors:
        raise invalid(errors)
    if changes.email is not None:
        user.email = changes.email
    if changes.username is not None:
        user.username = changes.username
    if "bio" in changes.model_fields_set:
        user.bio = changes.bio or None
    if "image" in changes.model_fields_set:
        user.image = changes.image or None
    if changes.password:
        user.password = hash_password(changes.password)
        user.token_version += 1
        db.flush()
        token = token_for(user)
    elif changes.username is not None:
        token = token_for(user)  # its claims name the user
    return user_out(user, token)


@api.get("/profiles/{username}", tags=["Profile"])
def get_profile(username: str, me: MaybeMe, db: Session) -> ProfileResponse:
    """A user's profile; ``following`` says whether the caller follows them."""
    user = find_user(db, username)
    return {"profile": profile(user, bool(followed_among(db, me, {user.id})))}


@api.post("/profiles/{username}/follow", tags=["Profile"])
def follow(username: str, me: Me, db: Session) -> ProfileResponse:
    """Follow a user (again: no change)."""
    user = find_user(db, username)
    if user.id == me.user.id:
        raise invalid({"username": ["can't be followed by itself"]})
    if db.get(Follow, (me.user.id, user.id)) is None:
        db.add(Follow(follower_id=me.user.id, followed_id=user.id))
    return {"profile": profile(user, True)}


@api.delete("/profiles/{username}/follow", tags=["Profile"])
def unfollow(username: str, me: Me, db: Session) -> ProfileResponse:
    """Stop following a user (one not followed: no change)."""
    user = find_user(db, username)
    db.execute(
        delete(Follow).where(
            Follow.follower_id == me.user.id, Follow.followed_id == user.id
        )
    )
    return {"profile": profile(user, False)}


def _page(
    db: Session, me: Caller | None, query: Any, limit: int, offset: int
) -> dict[str, Any]:
    """A page of the articles ``query`` selects, most recent first, and how
    many it selects in all."""
    count = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    articles = list(
        db.scalars(
            _loaded(query)
            .order_by(Article.created_at.desc(), Article.id.desc())
            .limit(limit)
            .offset(offset)
        ).unique()
    )
    return {
        "articles": articles_out(db, me, articles, with_body=False),
        "articlesCount": count,
    }


@api.get("/articles", tags=["Articles"])
def list_articles(
    me: MaybeMe,
    db: Session,
    tag: Annotated[str | None, filter_query(50, "With this tag.")] = None,
    author: Annotated[str | None, filter_query(40, "By this user.")] = None,
    favorited: Annotated[
        str | None, filter_query(40, "Favorited by this user.")
    ] = None,
    limit: Limit = 20,
    offset: Offset = 0,
) -> MultipleArticlesResponse:
    """Recent articles from everyone, filtered, most recent first."""
    query = select(Article)
    if tag:
        query = query.where(
            Article.id.in_(
                select(ArticleTag.article_id)
                .join(Tag, Tag.id == ArticleTag.tag_id)
                .where(Tag.name == tag.strip().lower())
            )
        )
    if author:
        query = query.where(
            Article.author_id.in_(select(User.id).where(by_username(author)))
        )
    if favorited:
        query = query.where(
            Article.id.in_(
                select(Favorite.article_id)
                .join(User, User.id == Favorite.user_id)
                .where(by_username(favorited))
            )
        )
    return _page(db, me, query, limit, offset)


@api.get("/articles/feed", tags=["Articles"])
def feed(
    me: Me, db: Session, limit: Limit = 20, offset: Offset = 0
) -> MultipleArticlesResponse:
    """Recent articles by the users the caller follows."""
    followed = select(Follow.followed_id).where(Follow.follower_id == me.user.id)
    query = select(Article).where(Article.author_id.in_(followed))
    return _page(db, me, query, limit, offset)


@api.post("/articles", tags=["Articles"], status_code=201)
def create_article(
    body: NewArticleRequest, me: Me, db: Session
) -> SingleArticleResponse:
    """Write an article; its slug comes from its title."""
    new = body.article
    article = Article(
        slug=unique_slug(db, new.title),
        title=new.title,
        description=new.description,
        body=new.body,
        author=me.user,
    )
    set_tags(db, article, new.tagList or [])
    db.add(article)
    db.flush()
    return article_out(db, me, article)


@api.get("/articles/{slug}", tags=["Articles"])
def get_article(slug: str, me: MaybeMe, db: Session) -> SingleArticleResponse:
    """One article, with its body."""
    return article_out(db, me, find_article(db, slug))


@api.put("/articles/{slug}", tags=["Articles"])
def update_article(
    slug: str, body: UpdateArticleRequest, me: Me, db: Session
) -> SingleArticleResponse:
    """Change an article of the caller's; a new title makes a new slug."""
    article = find_article(db, slug)
    if article.author_id != me.user.id:
        raise forbidden("article")
    changes = body.article
    if changes.title is not None and changes.title != article.title:
        article.slug = unique_slug(db, changes.title, but=article.id)
        article.title = changes.title
    if changes.description is not None:
        article.description = changes.description
    if changes.body is not None:
        article.body = changes.body
    if changes.tagList is not None:
        set_tags(db, article, changes.tagList)
    if db.is_modified(article) or changes.tagList is not None:
        article.updated_at = _now()
    db.flush()
    return article_out(db, me, article)


@api.delete("/articles/{slug}", tags=["Articles"])
def delete_article(slug: str, me: Me, db: Session) -> dict[str, Any]:
    """Delete an article of the caller's, with its comments, tags and favorites."""
    article = find_article(db, slug)
    if article.author_id != me.user.id:
        raise forbidden("article")
    db.delete(article)
    return {}


@api.post("/articles/{slug}/comments", tags=["Comments"])
def add_comment(
    slug: str, body: NewCommentRequest, me: Me, db: Session
) -> SingleCommentResponse:
    """Comment on an article."""
    article = find_article(db, slug)
    comment = Comment(article_id=article.id, author=me.user, body=body.comment.body)
    db.add(comment)
    db.flush()
    return {"comment": comments_out(db, me, [comment])[0]}


@api.get("/articles/{slug}/comments", tags=["Comments"])
def list_comments(slug: str, me: MaybeMe, db: Session) -> MultipleCommentsResponse:
    """An article's comments, most recent first."""
    article = find_article(db, slug)
    comments = list(
        db.scalars(
            select(Comment)
            .options(joinedload(Comment.author))
            .where(Comment.article_id == article.id)
            .order_by(Comment.created_at.desc(), Comment.id.desc())
        )
    )
    return {"comments": comments_out(db, me, comments)}


@api.delete("/articles/{slug}/comments/{id:int}", tags=["Comments"])
def delete_comment(slug: str, id: int, me: Me, db: Session) -> dict[str, Any]:
    """Delete a comment of the caller's."""
    article = find_article(db, slug)
    comment = db.get(Comment, id)
    if comment is None or comment.article_id != article.id:
        raise not_found("comment")
    if comment.author_id != me.user.id:
        raise forbidden("comment")
    db.delete(comment)
    return {}


@api.post("/articles/{slug}/favorite", tags=["Favorites"])
def favorite(slug: str, me: Me, db: Session) -> SingleArticleResponse:
    """Favorite an article (again: no change)."""
    article = find_article(db, slug)
    if db.get(Favorite, (me.user.id, article.id)) is None:
        db.add(Favorite(user_id=me.user.id, article_id=article.id))
        db.flush()
    return article_out(db, me, article)


@api.delete("/articles/{slug}/favorite", tags=["Favorites"])
def unfavorite(slug: str, me: Me, db: Session) -> SingleArticleResponse:
    """Take an article out of the caller's favorites."""
    article = find_article(db, slug)
    db.execute(
        delete(Favorite).where(
            Favorite.user_id == me.user.id, Favorite.article_id == article.id
        )
    )
    return article_out(db, me, article)


@api.get("/tags", tags=["Tags"])
def list_tags(db: Session) -> TagsResponse:
    """The tags articles have, the most used first."""
    uses = func.count(ArticleTag.article_id)
    names = db.scalars(
        select(Tag.name)
        .join(ArticleTag, ArticleTag.tag_id == Tag.id)
        .group_by(Tag.id, Tag.name)
        .order_by(uses.desc(), Tag.name)
    )
    return {"tags": list(names)}


# -- the app -----------------------------------------------------------------------


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


def create_app(**settings: Any) -> Kettle:
    """The Conduit app. ``settings`` override the defaults (tests give their own
    ``DATABASE_URL`` and ``SECRET_KEY``)."""
    defaults: dict[str, Any] = {
        "DATABASE_URL": os.environ.get(
            "KETTLE_DATABASE_URL", f"sqlite:///{INSTANCE / 'conduit.sqlite3'}"
        ),
        "OPENAPI_TITLE": "Conduit API",
        "OPENAPI_VERSION": "1.0.0",
        "OPENAPI_DESCRIPTION": "The RealWorld backend API. Authenticate with "
        "`Authorization: Token <jwt>`.",
    }
    config = {**defaults, **settings}
    if "SECRET_KEY" not in config:
        config["SECRET_KEY"] = _secret_key()
    app = Kettle(**config)
    # KETTLE_CONDUIT_TOKEN_LIFETIME=3600 (seconds) in the environment, or a setting.
    app.config.setdefault("CONDUIT_TOKEN_LIFETIME", TOKEN_LIFETIME)
    app.config.get_int("CONDUIT_TOKEN_LIFETIME")  # a wrong value fails here
    # Any origin may call the API: a front end is usually served elsewhere. No
    # credentials (cookies) are involved, so "*" is safe.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_methods=["GET", "POST", "PUT", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "X-Requested-With"],
        max_age=3600,
    )
    app.register_error_handler(RequestValidationError, validation_error)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(500, server_error)
    app.register_blueprint(api)

    @app.on_startup
    def create_tables() -> None:
        if str(app.config["DATABASE_URL"]).startswith("sqlite:///" + str(INSTANCE)):
            INSTANCE.mkdir(parents=True, exist_ok=True)
        Model.metadata.create_all(get_database(app).engine(), tables=TABLES)

    return app


app = create_app()
