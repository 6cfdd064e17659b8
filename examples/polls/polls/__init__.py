"""The polls app of Django's tutorial as a Kettle blueprint: what Django calls
an app. Its URLs are under ``/polls/``, its templates in ``templates/polls/``, its
stylesheet in ``static/polls/``, as in the tutorial."""

from kettle import Blueprint

bp = Blueprint("polls", url_prefix="/polls")

from . import admin  # noqa: E402,F401  (registers the models with the admin)
from . import views  # noqa: E402,F401  (adds the routes to bp)
