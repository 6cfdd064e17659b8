"""The TechEmpower database tests on Flask + Flask-SQLAlchemy (WSGI, psycopg 3).

The database comes from the ``DATABASE_URL`` environment variable, the pool size
from ``DB_POOL_SIZE`` (Flask-SQLAlchemy's ``SQLALCHEMY_ENGINE_OPTIONS``).
"""

import os
import random

from flask import Flask
from flask import render_template
from flask import request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import String
from sqlalchemy import select
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from .tfb_common import ADDITIONAL
from .tfb_common import count
from .tfb_common import random_ids


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class World(db.Model):
    __tablename__ = "world"
    id: Mapped[int] = mapped_column(primary_key=True)
    randomnumber: Mapped[int]


class Fortune(db.Model):
    __tablename__ = "fortune"
    id: Mapped[int] = mapped_column(primary_key=True)
    message: Mapped[str] = mapped_column(String(2048))


app = Flask(__name__)
app.json.sort_keys = False  # keep the handler's key order, as the others do
app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"].replace(
    "postgresql://", "postgresql+psycopg://", 1
)
pool = int(os.environ.get("DB_POOL_SIZE", "5"))
app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_size": pool, "max_overflow": 0}
db.init_app(app)


@app.get("/db")
def single_query():
    world = db.session.get(World, random.randint(1, 10000))
    return {"id": world.id, "randomNumber": world.randomnumber}


@app.get("/queries")
def multiple_queries():
    ids = random_ids(count(request.args.get("queries")))
    worlds = [db.session.get(World, i) for i in ids]
    return [{"id": w.id, "randomNumber": w.randomnumber} for w in worlds]


@app.get("/fortunes")
def fortunes():
    rows = list(db.session.scalars(select(Fortune)))
    rows.append(Fortune(id=0, message=ADDITIONAL))
    rows.sort(key=lambda f: f.message)
    return render_template("fortunes.html", fortunes=rows)  # templates/


@app.get("/updates")
def updates():
    worlds = []
    for i in random_ids(count(request.args.get("queries"))):
        world = db.session.get(World, i)
        world.randomnumber = random.randint(1, 10000)
        worlds.append({"id": world.id, "randomNumber": world.randomnumber})
    db.session.commit()  # (after it, the default expire_on_commit reloads rows)
    return worlds
