"""kettle.admin at scale: the list page over 100,000 rows runs the same few SQL
queries on every page (no query per row), and shows the right rows, on SQLite
and PostgreSQL."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy import event
from sqlalchemy import insert
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from kettle import Kettle
from kettle.admin import Admin
from kettle.admin import ModelAdmin
from kettle.auth import User
from kettle.auth import hashers
from kettle.db import Model
from kettle.db import get_database

hashers.set_test_parameters()
SECRET = "admin-scale-tests-secret-key-0123456789abcdefghijk"
BOTH_DBS = pytest.mark.parametrize(
    "database_url", ["sqlite", "postgresql"], indirect=True
)

ROWS = 100_000
# More racks than the rack filter's drop-down loads (100): were the list to load
# each row's rack lazily, the racks the drop-down did not bring into the session
# would each cost a query, so a page's count would grow with its rows.
RACKS = 200
PER_PAGE = 50
CHUNK = 10_000
MAX_QUERIES = 5


class ScaleRack(Model):
    __tablename__ = "scale_rack"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))

    def __str__(self) -> str:
        return self.name


class ScaleVolume(Model):
    __tablename__ = "scale_volume"
    __admin_label__ = "Volume"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    lent: Mapped[bool] = mapped_column(default=False)
    rack_id: Mapped[int] = mapped_column(ForeignKey("scale_rack.id"))
    rack: Mapped[ScaleRack] = relationship()

    def __str__(self) -> str:
        return self.title


# The list's orders (title, then key; rack descending, then key) and the rack
# filter read these instead of the whole table.
Index("ix_scale_volume_title", ScaleVolume.title, ScaleVolume.id)
Index("ix_scale_volume_rack", ScaleVolume.rack_id.desc(), ScaleVolume.id)


class VolumeAdmin(ModelAdmin):
    list_display = ["title", "rack", "lent"]
    search_fields = ["title"]
    list_filter = ["lent", "rack"]
    ordering = ["title"]
    per_page = PER_PAGE


def title(i: int) -> str:
    return f"Volume {i:06d}"


def rack_of(i: int) -> int:
    return i % RACKS + 1


def shown(i: int) -> tuple[str, str]:
    """Volume ``i``'s title and rack, as its list row shows them."""
    return title(i), f"Rack {rack_of(i)}"


def rows(page) -> list[tuple[str, str]]:
    """The (title, rack) of each row of a list page."""
    body = re.search(r"<tbody>(.*?)</tbody>", page.text, re.S)
    assert body, page.text
    out = []
    for row in re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        at = next(n for n, c in enumerate(cells) if 'href="/admin/scale_volume/' in c)
        out.append(
            (re.sub(r"<[^>]*>", "", cells[at]), re.sub(r"<[^>]*>", "", cells[at + 1]))
        )
    return out


def caption(total: int) -> str:
    return f"{total} Volume record{'s' if total != 1 else ''}"


@pytest.fixture
def scale_site(database_url):
    app = Kettle(
        SECRET_KEY=SECRET, DATABASE_URL=database_url.url_sync, RATELIMIT_ENABLED=False
    )
    Admin(app).register(ScaleVolume, VolumeAdmin)
    db = get_database(app)
    db.create_all()
    volumes = [
        {"id": i + 1, "title": title(i), "lent": i % 7 == 0, "rack_id": rack_of(i)}
        for i in range(ROWS)
    ]
    with db.engine().begin() as conn:
        conn.execute(
            insert(ScaleRack),
            [{"id": n, "name": f"Rack {n}"} for n in range(1, RACKS + 1)],
        )
        for start in range(0, ROWS, CHUNK):
            conn.execute(insert(ScaleVolume), volumes[start : start + CHUNK])
        if database_url.backend == "postgresql":
            try:
                with conn.begin_nested():  # a search by substring, with pg_trgm
                    conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
                    conn.execute(
                        text(
                            "CREATE INDEX ix_scale_volume_title_trgm ON scale_volume"
                            " USING gin (lower(title) gin_trgm_ops)"
                        )
                    )
            except DBAPIError:
                pass  # no pg_trgm here: the search reads the whole table
        for table in ("scale_rack", "scale_volume"):
            conn.execute(text(f"ANALYZE {table}"))
    with db.session() as s:
        s.add(
            User(
                username="boss",
                password="boss password",
                is_staff=True,
                is_superuser=True,
            )
        )
        s.commit()
    yield app
    db.drop_all()
    db.dispose()


@BOTH_DBS
def test_the_list_page_runs_the_same_few_queries_on_every_page(scale_site):
    by_rack_desc = sorted(range(ROWS), key=lambda i: (-rack_of(i), i))
    searched = [i for i in range(ROWS) if "ume 0999" in title(i)]
    lent_on_rack_7 = [i for i in range(ROWS) if i % 7 == 0 and rack_of(i) == 7]
    # Results of more than a page: a first page that holds them all is counted
    # without a COUNT query.
    assert len(searched) == 100 and len(lent_on_rack_7) == 72
    url = "/admin/scale_volume/"
    # (url, the volumes it shows, the count in its caption, its first row)
    pages = [
        (url, range(PER_PAGE), ROWS, ("Volume 000000", "Rack 1")),
        (
            f"{url}?page=1000",
            range(49_950, 50_000),
            ROWS,
            ("Volume 049950", "Rack 151"),
        ),
        (f"{url}?page=2000", range(99_950, ROWS), ROWS, ("Volume 099950", "Rack 151")),
        (
            f"{url}?o=-rack",
            by_rack_desc[:PER_PAGE],
            ROWS,
            ("Volume 000199", "Rack 200"),
        ),
        (
            f"{url}?o=-rack&page=1000",
            by_rack_desc[49_950:50_000],
            ROWS,
            ("Volume 090100", "Rack 101"),
        ),
        (f"{url}?q=ume+0999", searched[:PER_PAGE], 100, ("Volume 099900", "Rack 101")),
        (
            f"{url}?q=UME+0999&page=2",
            searched[PER_PAGE:],
            100,
            ("Volume 099950", "Rack 151"),
        ),
        (
            f"{url}?f.lent=1&f.rack=7",
            lent_on_rack_7[:PER_PAGE],
            72,
            ("Volume 000406", "Rack 7"),
        ),
        (
            f"{url}?f.lent=1&f.rack=7&page=2",
            lent_on_rack_7[PER_PAGE:],
            72,
            ("Volume 070406", "Rack 7"),
        ),
    ]
    app = scale_site
    engine = get_database(app).engine()
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    queries: dict[str, int] = {}
    with app.test_client(interface="wsgi", follow_redirects=False) as client:
        done = client.post(
            "/auth/login", data={"username": "boss", "password": "boss password"}
        )
        assert done.status_code == 303, done.text
        event.listen(engine, "before_cursor_execute", count)
        try:
            for address, expected, total, first in pages:
                statements.clear()
                page = client.get(address)
                queries[address] = len(statements)
                assert page.status_code == 200, (address, page.text)
                shown_rows = rows(page)
                assert shown_rows[0] == first, address
                assert shown_rows == [shown(i) for i in expected], address
                assert caption(total) in page.text, address
        finally:
            event.remove(engine, "before_cursor_execute", count)
    # The same few queries for every page, deep, sorted, searched or filtered
    # (the user, the rows with their racks, the count, the rack filter's
    # choices): no query per row.
    assert queries == dict.fromkeys(queries, queries[url]), queries
    assert queries[url] <= MAX_QUERIES, queries
