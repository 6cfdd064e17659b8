"""django.contrib.admin, in kettle.admin: the Django original of each line is in
its comment; the models are django_models.py's."""

from django_models import Garden
from django_models import Tea

from kettle import Kettle
from kettle.admin import Admin
from kettle.admin import Inline
from kettle.admin import ModelAdmin
from kettle.admin import action


class TeaInline(Inline):  # class TeaInline(admin.TabularInline):
    model = Tea
    fields = ["name", "price", "in_stock"]
    extra = 1


@action("Mark as sold out")  # @admin.action(description="Mark as sold out")
def sold_out(db, teas):  # def sold_out(modeladmin, request, queryset):
    for tea in teas:  # queryset.update(in_stock=False)
        tea.in_stock = False
    return f"{len(teas)} tea(s) marked as sold out."  # self.message_user(...)


class GardenAdmin(ModelAdmin):  # class GardenAdmin(admin.ModelAdmin):
    list_display = ["name", "country"]
    search_fields = ["name"]
    inlines = [TeaInline]


class TeaAdmin(ModelAdmin):
    list_display = ["name", "garden", "price", "in_stock"]  # the same options...
    search_fields = ["name", "notes"]
    list_filter = ["in_stock", "garden", "harvested"]
    ordering = ["name"]
    readonly_fields = ["created_at"]
    autocomplete_fields = ["garden"]
    actions = [sold_out]
    per_page = 25  # list_per_page = 25


def create_admin(app: Kettle) -> Admin:
    admin = Admin(app)  # path("admin/", admin.site.urls) in urls.py
    admin.register(Garden, GardenAdmin)  # admin.site.register(Garden, GardenAdmin)
    admin.register(Tea, TeaAdmin)  # @admin.register(Tea) on TeaAdmin
    return admin
