"""The admin's list page over 100,000 rows, on PostgreSQL: time and queries per
page, in process (WSGI test client), medians of 7.

Usage (from the repository root; starts and stops its own PostgreSQL)::

    .venv/bin/python bench/admin_list.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from sqlalchemy import ForeignKey
from sqlalchemy import String
from sqlalchemy import event
from sqlalchemy import insert
from sqlalchemy import text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

import dbservers
from kettle import Kettle
from kettle.admin import Admin
from kettle.admin import ModelAdmin
from kettle.auth import User
from kettle.auth import hashers
from kettle.db import Model
from kettle.db import get_database

ROWS = 100_000
PAGES = [
    ("page 1", "/admin/volume/"),
    ("page 1,000 (offset 49,950)", "/admin/volume/?page=1000"),
    ("sorted by rack, descending", "/admin/volume/?o=-rack"),
    ("search 'ume 0999'", "/admin/volume/?q=ume+0999"),
    ("filter lent=yes, rack 7", "/admin/volume/?f.lent=1&f.rack=7"),
]


class Rack(Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))

    def __str__(self) -> str:
        return self.name


class Volume(Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200), index=True)
    lent: Mapped[bool] = mapped_column(default=False)
    rack_id: Mapped[int] = mapped_column(ForeignKey("rack.id"), index=True)
    rack: Mapped[Rack] = relationship()


class VolumeAdmin(ModelAdmin):
    list_display = ["title", "rack", "lent"]
    search_fields = ["title"]
    list_filter = ["lent", "rack"]
    ordering = ["title"]


def main() -> None:
    hashers.set_test_parameters()
    base = Path(tempfile.mkdtemp(prefix="kettle-admin-bench-"))
    base.chmod(0o711)  # PostgreSQL runs as its own OS user
    server = dbservers.start_postgres(base)
    try:
        app = Kettle(SECRET_KEY="x" * 50, DATABASE_URL=server.url_sync)
        Admin(app).register(Volume, VolumeAdmin)
        db = get_database(app)
        db.create_all()
        with db.engine().begin() as conn:
            conn.execute(insert(Rack), [{"name": f"Rack {i}"} for i in range(1, 51)])
            conn.execute(
                insert(Volume),
                [
                    {
                        "title": f"Volume {i:06d}",
                        "lent": i % 7 == 0,
                        "rack_id": i % 50 + 1,
                    }
                    for i in range(ROWS)
                ],
            )
            conn.execute(text("ANALYZE"))
        with db.session() as s:
            s.add(
                User(username="boss", password="pw", is_staff=True, is_superuser=True)
            )
            s.commit()
        statements: list[str] = []
        event.listen(
            db.engine(), "before_cursor_execute", lambda *a: statements.append(a[2])
        )
        with app.test_client(interface="wsgi") as client:
            client.post("/auth/login", data={"username": "boss", "password": "pw"})
            for label, url in PAGES:
                client.get(url)
                times = []
                for _ in range(7):
                    statements.clear()
                    start = time.perf_counter()
                    response = client.get(url)
                    times.append(time.perf_counter() - start)
                    assert response.status_code == 200, response.text
                median = statistics.median(times) * 1000
                print(f"{label}: median {median:.1f} ms, {len(statements)} queries")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
