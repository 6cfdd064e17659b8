"""Django views and an app's URLconf, in Kettle: a blueprint's routes. The
Django original of each line is in its comment; the models are
django_models.py's."""

from decimal import Decimal

from django_models import Garden
from django_models import Tea
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm import joinedload

from kettle import Blueprint
from kettle import View
from kettle import redirect
from kettle import url_for
from kettle.cache import cache_response
from kettle.db import first_or_404
from kettle.db import get_or_404
from kettle.templating import render

# shop/urls.py: app_name = "shop"; the project's path("shop/", include(...))
shop = Blueprint("shop", url_prefix="/shop")


@shop.get("/")  # path("", views.index, name="index")
def index(db: Session):  # def index(request):
    query = select(Tea).options(joinedload(Tea.garden)).order_by(Tea.name)
    teas = db.scalars(query).all()  # Tea.objects.select_related("garden")...
    # render(request, "shop/teas.html", {"teas": teas})
    return render("guides/teas.html", teas=teas)


@shop.get("/teas/{tea_id:int}")  # path("teas/<int:tea_id>/", ..., name="tea")
def tea(tea_id: int, db: Session):
    found = get_or_404(db, Tea, tea_id)  # get_object_or_404(Tea, pk=tea_id)
    return {"name": found.name, "price": found.price}  # JsonResponse({...})


@shop.get("/gardens/{name:slug}")  # path("gardens/<slug:name>/", ...)
def garden(name: str, db: Session):
    # get_object_or_404(Garden, name__iexact=name)
    found = first_or_404(db, select(Garden).where(Garden.name.ilike(name)))
    return {"garden": found.name, "shop": url_for("shop.index")}  # reverse(...)


@shop.post("/teas/{tea_id:int}/sold-out")  # @require_POST
def sold_out(tea_id: int, db: Session):
    get_or_404(db, Tea, tea_id).in_stock = False  # tea.save(): committed on return
    return redirect("shop.tea", 303, tea_id=tea_id)  # redirect("shop:tea", tea_id=...)


class Prices(View):  # class Prices(View), with get() and post() methods
    def get(self, db: Session, under: Decimal = Decimal(1000)):  # request.GET["under"]
        query = select(Tea.name, Tea.price).where(Tea.price < under)
        return {name: price for name, price in db.execute(query.order_by(Tea.name))}


shop.add_route("/prices", Prices, name="prices")  # path(..., Prices.as_view(), ...)


@shop.get("/count")
@cache_response(ttl=60)  # @cache_page(60)
def count(db: Session):
    return {"teas": len(db.scalars(select(Tea.id)).all())}
