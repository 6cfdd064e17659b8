"""The admin site, at /admin: the posts, and kettle.auth's users and groups."""

from kettle import Kettle
from kettle.admin import Admin
from kettle.admin import ModelAdmin

from .models import Post


class PostAdmin(ModelAdmin):
    list_display = ["title", "author", "created_at"]
    search_fields = ["title", "body"]
    list_filter = ["created_at", "author"]
    ordering = ["-created_at"]
    readonly_fields = ["author"]


def setup_admin(app: Kettle) -> Admin:
    admin = Admin(app, title="Blog administration")
    admin.register(Post, PostAdmin)
    return admin
