"""Kettle's admin: a management site generated from the models.

::

    from kettle.admin import Admin, ModelAdmin

    admin = Admin(app)                          # /admin, for staff users
    admin.register(Author)
    admin.register(Book, list_display=["id", "title", "author"],
                   search_fields=["title"], list_filter=["author", "in_print"])

It needs ``kettle.auth`` (staff users log in on its login page) and
``kettle.db``.
"""

from __future__ import annotations

from .auth_admin import GroupAdmin
from .auth_admin import UserAdmin
from .models import LogEntry
from .options import Inline
from .options import ModelAdmin
from .options import action
from .options import display
from .sections import AdminSection
from .site import Admin

__all__ = (
    "Admin",
    "AdminSection",
    "GroupAdmin",
    "Inline",
    "LogEntry",
    "ModelAdmin",
    "UserAdmin",
    "action",
    "display",
)
