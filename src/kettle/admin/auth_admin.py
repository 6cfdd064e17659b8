"""The admin of ``kettle.auth``'s users and groups: :class:`UserAdmin` and
:class:`GroupAdmin` (registered by ``Admin(app)`` unless ``auth_models=False``)."""

from __future__ import annotations

from typing import Any
from typing import ClassVar

from ..forms import Form
from ..forms import MultipleChoiceField
from ..forms import PasswordField
from ..forms import populate
from .options import ModelAdmin

__all__ = ("GroupAdmin", "UserAdmin")

#: The fields only a superuser may change: they hand out permissions.
_GRANTING = ("is_superuser", "groups", "permissions")


def _permission_choices() -> list[tuple[str, str]]:
    from ..auth.permissions import known_permissions

    return [
        (code, f"{code}: {name}") for code, name in sorted(known_permissions().items())
    ]


def _permissions_field() -> MultipleChoiceField:
    return MultipleChoiceField(
        "Permissions",
        choices=_permission_choices,
        help_text="Held on top of those of the groups.",
    )


def _set_permissions(db: Any, target: Any, codes: list[str]) -> None:
    """Give ``target`` exactly the declared permissions ``codes``; codes no
    model declares (any more) are not in the form, and stay."""
    from ..auth.permissions import grant
    from ..auth.permissions import known_permissions
    from ..auth.permissions import revoke

    known = known_permissions()
    held = [p.codename for p in target.permissions if p.codename in known]
    revoke(db, target, *(c for c in held if c not in codes))
    grant(db, target, *codes)


class _Permissions(ModelAdmin):
    """A model with ``permissions``, edited as codes."""

    def __init__(self, model: type[Any]) -> None:
        super().__init__(model)
        self.form_class = type(
            self.form_class.__name__,
            (self.form_class,),
            {"permissions": _permissions_field()},
        )

    def initial(self, obj: Any) -> dict[str, Any]:
        values = super().initial(obj)
        from ..auth.permissions import known_permissions

        known = known_permissions()
        values["permissions"] = sorted(
            p.codename for p in obj.permissions if p.codename in known
        )
        return values

    def check_form(self, db: Any, form: Form, obj: Any | None, user: Any) -> bool:
        ok = super().check_form(db, form, obj, user)
        if user.is_superuser:
            return ok
        before = self.initial(obj) if obj is not None else {}
        for name in _GRANTING:
            if name not in form.data:
                continue
            value, old = form.data[name], before.get(name)
            same = (
                set(value) == set(old or ())
                if isinstance(value, list)
                else value == bool(old)
            )
            if not same:
                form.add_error(name, "Only a superuser may change this.")
                ok = False
        return ok

    def save_form(self, db: Any, form: Form, obj: Any) -> Any:
        populate(form, obj, db, exclude=("permissions", "password", "confirm"))
        _set_permissions(db, obj, form.data.get("permissions") or [])
        return obj


class GroupAdmin(_Permissions):
    """Groups: a name, and the permissions their members hold."""

    list_display: ClassVar = ["name", "requires_two_factor"]
    search_fields: ClassVar = ["name"]
    ordering: ClassVar = ["name"]
    fields: ClassVar = ["name", "requires_two_factor"]


class _NewPassword(Form):
    password = PasswordField("Password", max_length=4096, autocomplete="new-password")
    confirm = PasswordField(
        "Password (again)", max_length=4096, autocomplete="new-password"
    )
    #: The user the password is for (the validators compare with it).
    user: Any = None

    def validate(self) -> None:
        from ..auth.views import _check_new_password

        if self.user is None:  # a new user: what the form holds of it
            self.user = {k: v for k, v in self.data.items() if k != "password"}
        _check_new_password(self)


class UserAdmin(_Permissions):
    """Users: their details, groups and permissions; a new user's password
    is set on the add page, an existing one's on its own page (the hash is
    never shown)."""

    list_display: ClassVar = [
        "username",
        "email",
        "first_name",
        "last_name",
        "is_staff",
    ]
    search_fields: ClassVar = ["username", "email", "first_name", "last_name"]
    list_filter: ClassVar = ["is_staff", "is_superuser", "is_active"]
    ordering: ClassVar = ["username"]
    fields: ClassVar = [
        "username",
        "email",
        "first_name",
        "last_name",
        "is_active",
        "is_staff",
        "is_superuser",
        "groups",
    ]
    readonly_fields: ClassVar = ["last_login", "date_joined"]
    has_password: ClassVar[bool] = True

    def __init__(self, model: type[Any]) -> None:
        super().__init__(model)
        self.add_form_class: type[Form] = type(
            "UserAddForm", (self.form_class, _NewPassword), {}
        )
        #: The "Set password" page's form.
        self.password_form_class: type[Form] = _NewPassword

    def can_object(self, user: Any, obj: Any, action: str) -> bool:
        """A superuser's record is changed (password included) or deleted
        only by a superuser."""
        return bool(user.is_superuser or not obj.is_superuser)

    def get_form_class(self, obj: Any | None) -> type[Form]:
        return self.add_form_class if obj is None else self.form_class

    def save_form(self, db: Any, form: Form, obj: Any) -> Any:
        super().save_form(db, form, obj)
        if "password" in form.data:
            obj.set_password(form.data["password"])
        return obj
