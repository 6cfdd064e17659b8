"""Models registered in the admin by a blueprint: :class:`AdminSection`."""

from __future__ import annotations

import weakref
from typing import Any

from ..blueprints import Blueprint
from ..exceptions import ImproperlyConfigured
from .options import ModelAdmin
from .options import build

__all__ = ("AdminSection", "sections_of")

_SECTIONS: weakref.WeakKeyDictionary[Blueprint, AdminSection] = (
    weakref.WeakKeyDictionary()
)


class AdminSection:
    """The admin's models of one blueprint, registered where the blueprint is
    made, without the app or its :class:`~kettle.admin.Admin` at hand::

        bp = Blueprint("shop", url_prefix="/shop")
        shop_admin = AdminSection(bp)
        shop_admin.register(Product, list_display=["name", "price"])

    Every app that registers the blueprint and has an ``Admin`` manages these
    models; its dashboard lists them under the section's heading.

    Args:
        blueprint: The blueprint (one section each).
        label: The heading (default: the blueprint's name, capitalised).
    """

    def __init__(self, blueprint: Blueprint, label: str | None = None) -> None:
        if blueprint in _SECTIONS:
            raise ImproperlyConfigured(
                f"blueprint {blueprint.name!r} has an AdminSection already"
            )
        self.blueprint = blueprint
        self.label = label or blueprint.name.replace("_", " ").capitalize()
        #: The registered models' options, in order.
        self.model_admins: list[ModelAdmin] = []
        _SECTIONS[blueprint] = self

    def register(
        self,
        model: type[Any],
        admin_class: type[ModelAdmin] | None = None,
        **options: Any,
    ) -> ModelAdmin:
        """As :meth:`Admin.register <kettle.admin.Admin.register>`: the
        options are checked now, the model is managed by each app's admin
        once the app starts.

        Raises:
            ImproperlyConfigured: The model is in this section already, or an
                option names no column.
        """
        made = build(model, admin_class, options)
        if any(m.name == made.name for m in self.model_admins):
            raise ImproperlyConfigured(
                f"{model.__name__} is in the {self.label!r} admin section already"
            )
        made.section = self.label
        self.model_admins.append(made)
        return made

    def __repr__(self) -> str:
        return f"<AdminSection {self.label!r} models={len(self.model_admins)}>"


def sections_of(blueprint: Blueprint) -> AdminSection | None:
    """The blueprint's admin section, if it has one."""
    return _SECTIONS.get(blueprint)
