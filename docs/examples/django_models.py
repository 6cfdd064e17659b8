"""Django models and QuerySets, in kettle.db (SQLAlchemy 2.0): the Django
original of each line is in its comment. A model declares its columns; a query
is a ``select()`` run by the session."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import ForeignKey
from sqlalchemy import Numeric
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import delete
from sqlalchemy import exists
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import Session
from sqlalchemy.orm import joinedload
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship
from sqlalchemy.orm import selectinload

from kettle.db import PK
from kettle.db import Model
from kettle.db import Timestamps
from kettle.db import bulk_insert
from kettle.db import transaction


class Garden(Model):  # class Garden(models.Model): table "garden"
    id: Mapped[PK]  # Django adds it: id = models.BigAutoField(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)  # CharField(...)
    country: Mapped[str] = mapped_column(String(50))
    # garden.tea_set, the reverse of Tea.garden; deleting a garden deletes its teas
    teas: Mapped[list[Tea]] = relationship(
        back_populates="garden", cascade="all, delete-orphan"
    )

    def __str__(self) -> str:  # def __str__(self)
        return self.name


class Tea(Timestamps, Model):  # Timestamps: auto_now_add and auto_now fields
    id: Mapped[PK]
    name: Mapped[str] = mapped_column(String(100))  # CharField(max_length=100)
    # ForeignKey(Garden, on_delete=models.CASCADE)
    garden_id: Mapped[int] = mapped_column(ForeignKey("garden.id", ondelete="CASCADE"))
    garden: Mapped[Garden] = relationship(back_populates="teas")
    price: Mapped[Decimal] = mapped_column(Numeric(6, 2))  # DecimalField(6, 2)
    in_stock: Mapped[bool] = mapped_column(default=True)  # BooleanField(default=True)
    harvested: Mapped[date | None]  # DateField(null=True)
    notes: Mapped[str] = mapped_column(Text, default="")  # TextField(blank=True)

    def __str__(self) -> str:
        return self.name


def add_teas(db: Session) -> None:
    japan = Garden(name="Uji", country="Japan")  # Garden.objects.create(...)
    db.add(japan)
    db.add(Tea(name="Gyokuro", garden=japan, price=Decimal("9.50")))
    db.flush()  # the INSERTs now (Django's create() saves at once)
    # Tea.objects.bulk_create([Tea(...), ...])
    bulk_insert(
        db,
        Tea,
        [
            {"name": "Sencha", "garden_id": japan.id, "price": Decimal("4.20")},
            {"name": "Matcha", "garden_id": japan.id, "price": Decimal("12.00")},
        ],
    )
    db.add(Garden(name="Makaibari", country="India"))


def queries(db: Session) -> dict[str, object]:
    return {
        # Tea.objects.order_by("name").values_list("name", flat=True)
        "names": db.scalars(select(Tea.name).order_by(Tea.name)).all(),
        # Tea.objects.filter(name__icontains="cha", price__lte=5)
        "cheap": db.scalars(
            select(Tea.name).where(Tea.name.icontains("cha"), Tea.price <= 5)
        ).all(),
        # Tea.objects.filter(Q(price__gt=10) | Q(in_stock=False)).exclude(name="X")
        "either": db.scalars(
            select(Tea.name).where(or_(Tea.price > 10, ~Tea.in_stock), Tea.name != "X")
        ).all(),
        # Tea.objects.filter(garden__country="Japan").count()
        "japanese": db.scalar(
            select(func.count())
            .select_from(Tea)
            .join(Tea.garden)
            .where(Garden.country == "Japan")
        ),
        # Tea.objects.filter(price__gt=100).exists()
        "luxury": db.scalar(select(exists().where(Tea.price > 100))),
        # Tea.objects.aggregate(Max("price"))["price__max"]
        "dearest": db.scalar(select(func.max(Tea.price))),
        # Garden.objects.annotate(n=Count("tea")).order_by("name").values_list("name", "n")
        "per_garden": [
            tuple(row)
            for row in db.execute(
                select(Garden.name, func.count(Tea.id))
                .outerjoin(Garden.teas)
                .group_by(Garden.id)
                .order_by(Garden.name)
            )
        ],
        # Tea.objects.order_by("price").values("name", "price")[:2]: dicts, no objects
        "rows": [
            row._asdict()
            for row in db.execute(
                select(Tea.name, Tea.price).order_by(Tea.price).limit(2)
            )
        ],
    }


def related(db: Session) -> dict[str, object]:
    # Tea.objects.select_related("garden"): one query, with a join
    teas = db.scalars(select(Tea).options(joinedload(Tea.garden)).order_by(Tea.id))
    # Garden.objects.prefetch_related("tea_set"): a second query for the teas
    gardens = db.scalars(select(Garden).options(selectinload(Garden.teas)))
    return {
        "teas": [f"{tea.name} ({tea.garden.name})" for tea in teas],
        "gardens": {garden.name: len(garden.teas) for garden in gardens},
    }


def changes(db: Session) -> None:
    # Tea.objects.filter(garden__name="Uji").update(price=F("price") + 1)
    uji = select(Garden.id).where(Garden.name == "Uji").scalar_subquery()
    db.execute(update(Tea).where(Tea.garden_id == uji).values(price=Tea.price + 1))
    with transaction(db):  # with transaction.atomic():
        # Tea.objects.select_for_update().get(name="Matcha")
        matcha = db.scalars(
            select(Tea).where(Tea.name == "Matcha").with_for_update()
        ).one()
        matcha.in_stock = False  # matcha.save(): flushed with the transaction
    db.execute(delete(Tea).where(Tea.name == "Sencha"))  # .filter(...).delete()
