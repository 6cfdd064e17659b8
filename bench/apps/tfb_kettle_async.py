"""The TechEmpower database tests on Kettle with ``async def`` handlers and
``db: AsyncSession`` (served as ASGI).

The database comes from the ``KETTLE_DATABASE_URL`` environment variable (and the
pool from ``KETTLE_DATABASE_ENGINE_OPTIONS``), as any Kettle setting does.
"""

import random
from operator import itemgetter

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kettle import Kettle
from kettle.templating import render

from .tfb_common import ADDITIONAL
from .tfb_common import count
from .tfb_common import random_ids
from .tfb_kettle_models import Fortune
from .tfb_kettle_models import FortuneRow
from .tfb_kettle_models import World

app = Kettle()


@app.get("/db")
async def single_query(db: AsyncSession):
    world = await db.get(World, random.randint(1, 10000))
    return {"id": world.id, "randomNumber": world.randomnumber}


@app.get("/queries")
async def multiple_queries(db: AsyncSession, queries: str = "1"):
    worlds = [await db.get(World, world_id) for world_id in random_ids(count(queries))]
    return [{"id": w.id, "randomNumber": w.randomnumber} for w in worlds]


@app.get("/fortunes")
async def fortunes(db: AsyncSession):
    # the columns, not objects: what Django's entry reads with values()
    rows = (await db.execute(select(Fortune.id, Fortune.message))).all()
    rows.append(FortuneRow(0, ADDITIONAL))
    rows.sort(key=itemgetter(1))  # (id, message) rows
    return render("fortunes.html", fortunes=rows)


@app.get("/updates")
async def updates(db: AsyncSession, queries: str = "1"):
    worlds = [await db.get(World, world_id) for world_id in random_ids(count(queries))]
    for world in worlds:
        world.randomnumber = random.randint(1, 10000)
    # committed by Kettle when the handler returns
    return [{"id": w.id, "randomNumber": w.randomnumber} for w in worlds]
