"""django.contrib.auth, in kettle.auth: logging in, the current user, login
and permission checks, groups. The Django original of each line is in its
comment; the models are django_models.py's."""

from decimal import Decimal

from django_models import Tea
from sqlalchemy.orm import Session

from kettle import Blueprint
from kettle.auth import Group
from kettle.auth import User
from kettle.auth import grant
from kettle.auth import login_required
from kettle.auth import permission_required
from kettle.db import get_or_404

staff = Blueprint("staff", url_prefix="/staff")


@staff.get("/me")
@login_required  # @login_required
def me(user: User):  # request.user
    return {"name": user.username, "editor": user.has_perm("tea.change")}


@staff.post("/teas/{tea_id:int}/price")
@permission_required("tea.change")  # @permission_required("shop.change_tea")
def set_price(tea_id: int, price: Decimal, db: Session):
    get_or_404(db, Tea, tea_id).price = price
    return {"price": price}


def add_editor(db: Session, name: str, password: str) -> User:
    editors = Group(name="editors")  # Group.objects.create(name="editors")
    grant(db, editors, "tea.view", "tea.change")  # editors.permissions.add(...)
    # User.objects.create_user(name, password=password); user.groups.add(editors)
    user = User(username=name, password=password)
    user.groups.append(editors)
    db.add_all([editors, user])
    return user
