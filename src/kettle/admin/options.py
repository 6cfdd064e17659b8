"""How one model is shown and edited in the admin: :class:`ModelAdmin`."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from collections.abc import Sequence
from typing import Any
from typing import ClassVar
from typing import TypeVar

from markupsafe import Markup
from markupsafe import escape
from sqlalchemy import Boolean
from sqlalchemy import Date
from sqlalchemy import DateTime
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import false
from sqlalchemy import func
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from ..db.queries import integer_bounds
from ..exceptions import ImproperlyConfigured
from ..forms import Form
from ..forms import IntegerField
from ..forms import _attrs
from ..forms import initial_from
from ..forms import populate

__all__ = ("Inline", "ModelAdmin", "action", "display")

Action = Callable[..., Any]
F = TypeVar("F", bound=Callable[..., Any])


def action(
    description: str, *, permission: str = "change"
) -> Callable[[Action], Action]:
    """Mark a function as a bulk action of a :class:`ModelAdmin`:
    ``func(db, objects) -> str | None`` (a message for the user). Shown as
    ``description``; offered to users holding ``<model>.<permission>``."""

    def decorate(func: Action) -> Action:
        func.admin_description = description  # type: ignore[attr-defined]
        func.admin_permission = permission  # type: ignore[attr-defined]
        return func

    return decorate


def display(
    *,
    description: str | None = None,
    boolean: bool = False,
    ordering: str | None = None,
) -> Callable[[F], F]:
    """Describe a computed column of ``list_display`` (a method of the model or
    of the :class:`ModelAdmin`, as Django's ``@admin.display``): its heading
    (``description``), Yes/No for a true or false value (``boolean``), and the
    column that sorts it (``ordering``, ``"-pub_date"`` for descending)."""

    def decorate(func: F) -> F:
        func.admin_display = _Computed(  # type: ignore[attr-defined]
            description, boolean, ordering
        )
        return func

    return decorate


class _Computed:
    """How a computed column of the list is shown and sorted."""

    __slots__ = ("boolean", "description", "get", "ordering")

    def __init__(
        self, description: str | None, boolean: bool, ordering: str | None
    ) -> None:
        self.description = description
        self.boolean = boolean
        self.ordering = ordering
        #: The value of a row: set when the ModelAdmin is made.
        self.get: Callable[[Any], Any] = lambda obj: None


class ModelAdmin:
    """The options of one model's pages. Subclass it and set the attributes,
    or pass them to ``admin.register(Model, ...)``.

    Attributes:
        list_display: Columns (or many-to-one relations) of the list page,
            or names of methods of the model or of this class (given the row)
            computing a column; :func:`display` describes those.
        search_fields: Text columns the search box looks in.
        list_filter: Columns to filter by: booleans, columns with choices
            (enums), dates and times, and many-to-one relations.
        ordering: The list's order (``"-created_at"`` for descending).
        readonly_fields: Columns shown but not edited.
        fields: The columns of the edit form, in order (default: every column
            the user sets).
        actions: Bulk actions (see :func:`action`); "Delete selected" is
            always offered to users who may delete.
        per_page: Rows per list page.
        autocomplete_fields: Many-to-one relations edited with a
            search-as-you-type box instead of a list of every row (for large
            tables); the related model must be registered with
            ``search_fields``.
        inlines: Child models edited in the parent's form, a row each:
            :class:`Inline` subclasses, or child models (each with a
            many-to-one relation to this model).
    """

    list_display: ClassVar[Sequence[str]] = ()
    search_fields: ClassVar[Sequence[str]] = ()
    list_filter: ClassVar[Sequence[str]] = ()
    ordering: ClassVar[Sequence[str]] = ()
    readonly_fields: ClassVar[Sequence[str]] = ()
    fields: ClassVar[Sequence[str] | None] = None
    actions: ClassVar[Sequence[Action]] = ()
    per_page: ClassVar[int] = 50
    autocomplete_fields: ClassVar[Sequence[str]] = ()
    inlines: ClassVar[Sequence[Any]] = ()
    #: Whether records have a "Set password" page (see ``UserAdmin``).
    has_password: ClassVar[bool] = False

    def __init__(self, model: type[Any]) -> None:
        self.model = model
        mapper = sa_inspect(model)
        self.mapper = mapper
        table = mapper.local_table
        #: The model's name in URLs and permissions: its table's.
        self.name: str = table.name
        self.label: str = getattr(model, "__admin_label__", None) or model.__name__
        self.columns = {p.key: p.columns[0] for p in mapper.column_attrs}
        pks = [mapper.get_property_by_column(c).key for c in mapper.primary_key]
        if len(pks) != 1:
            raise ImproperlyConfigured(
                f"the admin edits models with one primary key column; "
                f"{model.__name__} has {len(pks)}"
            )
        self.pk: str = pks[0]
        self.relations = {
            r.key: r for r in mapper.relationships if r.direction.name == "MANYTOONE"
        }
        #: The dashboard's heading this model is listed under (a blueprint's
        #: :class:`~kettle.admin.AdminSection`; None: the app's own models).
        self.section: str | None = None
        #: The list's computed columns, by name.
        self.computed: dict[str, _Computed] = {
            name: self._computed(name)
            for name in self.list_display
            if name not in self.columns and name not in self.relations
        }
        self._check_names()
        #: The list page's columns (default: the key and four columns).
        self.columns_shown: list[str] = list(self.list_display) or [
            self.pk,
            *[k for k in self.columns if k != self.pk][:4],
        ]
        from ..forms import model_form

        secret = set(getattr(model, "__admin_secret__", ()))
        editable = (
            [self._key_of(f) for f in self.fields] if self.fields is not None else None
        )
        if editable is None:
            editable = [
                k
                for k, c in self.columns.items()
                if not c.primary_key
                and c.server_default is None
                and not callable(getattr(c.default, "arg", None))
                and k not in secret  # password hashes, TOTP secrets
            ]
        kept_out = {self._key_of(f) for f in self._not_edited()}
        self.form_fields = [f for f in editable if f not in kept_out]
        form_class = model_form(model, fields=self.form_fields)
        #: ``{form field: relation}`` of the autocomplete fields.
        self.autocompleted: dict[str, Any] = {}
        overrides: dict[str, Any] = {}
        for name in self.autocomplete_fields:
            rel = self.relations.get(name)
            if rel is None:
                raise ImproperlyConfigured(
                    f"{type(self).__name__}.autocomplete_fields: {name!r} is not a "
                    f"many-to-one relation of {model.__name__}"
                )
            local = next(iter(rel.local_columns))
            key = mapper.get_property_by_column(local).key
            if key in form_class._fields:
                self.autocompleted[key] = rel
                low, high = integer_bounds(local.type)
                overrides[key] = RelatedField(
                    form_class._fields[key].label,
                    required=form_class._fields[key].required,
                    min_value=low,
                    max_value=high,
                    admin_name=self.name,
                    relation=name,
                )
        if overrides:
            form_class = type(form_class.__name__, (form_class,), overrides)
        self.form_class = form_class
        #: The form's fields whose column is unique on its own.
        self.unique_fields: list[str] = _unique_fields(mapper, form_class)
        #: The :class:`Inline` of each child model edited in the form.
        self.inline_admins: list[Inline] = [
            _inline_class(spec)(model) for spec in self.inlines
        ]
        names = [i.prefix for i in self.inline_admins]
        if len(set(names)) != len(names):
            raise ImproperlyConfigured(
                f"{type(self).__name__}.inlines: a child model is listed twice"
            )

    def _not_edited(self) -> set[str]:
        return set(self.readonly_fields)

    def _key_of(self, name: str) -> str:
        """A many-to-one relation's name as its foreign key column's key (the
        form's field); other names as they are."""
        rel = self.relations.get(name)
        if rel is None:
            return name
        local = next(iter(rel.local_columns))
        return str(self.mapper.get_property_by_column(local).key)

    def _computed(self, name: str) -> _Computed:
        """The computed column ``name``: a method of this class (given the row)
        or of the model."""
        own = getattr(type(self), name, None)
        made = getattr(self.model, name, None)
        if callable(own):
            func, get = own, getattr(self, name)
        elif callable(made) and not isinstance(made, type):
            func = made

            def get(obj: Any) -> Any:
                return getattr(obj, name)()
        else:
            raise ImproperlyConfigured(
                f"{type(self).__name__}.list_display: {self.model.__name__} has no "
                f"column, relation or method {name!r}, nor has "
                f"{type(self).__name__}"
            )
        info = getattr(func, "admin_display", None)
        info = (
            _Computed(info.description, info.boolean, info.ordering)
            if info
            else (_Computed(None, False, None))
        )
        if info.ordering is not None and info.ordering.lstrip("-") not in self.columns:
            raise ImproperlyConfigured(
                f"{type(self).__name__}.{name}: ordering {info.ordering!r} is not a "
                f"column of {self.model.__name__}"
            )
        info.get = get
        return info

    def heading(self, name: str) -> str:
        """A list column's heading."""
        found = self.computed.get(name)
        if found is not None and found.description:
            return found.description
        return name.replace("_", " ").capitalize()

    def _check_names(self) -> None:
        known = set(self.columns) | set(self.relations)
        # list_display's other names are computed columns, checked when found
        for option in ("list_filter", "ordering", "readonly_fields"):
            for name in getattr(self, option):
                if name.lstrip("-") not in known:
                    raise ImproperlyConfigured(
                        f"{type(self).__name__}.{option}: {self.model.__name__} "
                        f"has no column or relation {name.lstrip('-')!r}"
                    )
        for name in self.list_filter:
            column = self.columns.get(name)
            if column is None:
                continue  # a relation
            kind = column.type
            if not (
                isinstance(kind, Boolean | Date | DateTime)
                or getattr(kind, "enums", None)
            ):
                raise ImproperlyConfigured(
                    f"{type(self).__name__}.list_filter: {name!r} is not a boolean, "
                    f"enum, date or many-to-one relation of {self.model.__name__}"
                )
        for name in self.search_fields:
            column = self.columns.get(name)
            if column is None or not isinstance(column.type, String | Text):
                raise ImproperlyConfigured(
                    f"{type(self).__name__}.search_fields: {name!r} is not a text "
                    f"column of {self.model.__name__}"
                )

    # -- the form --------------------------------------------------------------------

    def get_form_class(self, obj: Any | None) -> type[Form]:
        """The form of the add page (``obj`` None) or of ``obj``'s page."""
        form_class: type[Form] = self.form_class
        return form_class

    def initial(self, obj: Any) -> dict[str, Any]:
        """``obj``'s values for its form."""
        return initial_from(obj, self.get_form_class(obj))

    def save_form(self, db: Any, form: Form, obj: Any) -> Any:
        """Set ``obj`` (a new one on the add page) from a valid form; it is
        added to ``db`` and flushed afterwards."""
        return populate(form, obj, db)

    def check_form(self, db: Any, form: Form, obj: Any | None, user: Any) -> bool:
        """Checks of a valid form that need the database or the user making
        the change (default: :meth:`check_unique`); add errors to the form
        and return False to refuse it."""
        return self.check_unique(db, form, obj)

    def check_unique(self, db: Any, form: Form, obj: Any | None) -> bool:
        """Whether the form's values of unique columns are free (errors are
        added by the fields otherwise)."""
        ok = True
        for name in self.unique_fields:
            if name not in form.data or form.data[name] is None:
                continue
            stmt = select(getattr(self.model, self.pk)).where(
                getattr(self.model, name) == form.data[name]
            )
            if obj is not None:
                stmt = stmt.where(getattr(self.model, self.pk) != getattr(obj, self.pk))
            if db.scalars(stmt.limit(1)).first() is not None:
                form.add_error(
                    name,
                    f"A {self.label} with this {name.replace('_', ' ')} "
                    "exists already.",
                )
                ok = False
        return ok

    # -- permissions ---------------------------------------------------------------

    def perm(self, action: str) -> str:
        return f"{self.name}.{action}"

    def can(self, user: Any, action: str) -> bool:
        """Whether ``user`` may ``action`` (view, add, change, delete) rows;
        viewing is allowed to those who may change."""
        if user.has_perm(self.perm(action)):
            return True
        return action == "view" and user.has_perm(self.perm("change"))

    def can_object(self, user: Any, obj: Any, action: str) -> bool:
        """Whether ``user`` may ``action`` (change, delete) this record, on
        top of :meth:`can` (default: yes; ``UserAdmin`` keeps superusers'
        records to superusers)."""
        return True

    # -- the list --------------------------------------------------------------------

    def filters(self) -> list[dict[str, Any]]:
        """The list filters: ``{"name", "label", "choices": [(value, label)]}``
        (foreign keys' choices are read by the page)."""
        out: list[dict[str, Any]] = []
        for name in self.list_filter:
            if name in self.relations:
                out.append(
                    {"name": name, "label": name.replace("_", " "), "kind": "fk"}
                )
                continue
            column = self.columns[name]
            enums = getattr(column.type, "enums", None)
            if isinstance(column.type, Boolean):
                choices = [("1", "Yes"), ("0", "No")]
            elif enums:
                choices = [(e, e) for e in enums]
            else:  # a date (checked at registration)
                choices = list(_DATE_CHOICES)
                if column.nullable:
                    choices.append(("none", "No date"))
            out.append(
                {
                    "name": name,
                    "label": name.replace("_", " "),
                    "kind": "choices",
                    "choices": choices,
                }
            )
        return out

    def statement(self, q: str, order: str, filters: dict[str, str]) -> Any:
        """The list's query: searched, filtered, ordered, relations of the
        displayed columns loaded in the same query (no query per row)."""
        model = self.model
        stmt = select(model)
        for name in self.columns_shown:
            if name in self.relations:
                stmt = stmt.options(joinedload(getattr(model, name)))
        q = q.strip()
        if q and self.search_fields:
            pattern = (
                "%"
                + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                + "%"
            )
            stmt = stmt.where(
                or_(
                    *(
                        func.lower(getattr(model, f)).like(pattern.lower(), escape="\\")
                        for f in self.search_fields
                    )
                )
            )
        for name, raw in filters.items():
            stmt = self._filter(stmt, name, raw)
        orders = [order] if order else list(self.ordering) or [f"-{self.pk}"]
        for item in orders:
            key = item.lstrip("-")
            computed = self.computed.get(key)
            if computed is not None and computed.ordering is not None:
                # its column, the direction flipped when the list's is descending
                by = computed.ordering
                descending = by.startswith("-") != item.startswith("-")
                item = ("-" if descending else "") + by.lstrip("-")
                key = by.lstrip("-")
            if key in self.relations:
                key = next(
                    self.mapper.get_property_by_column(c).key
                    for c in self.relations[key].local_columns
                )
            column = getattr(model, key)
            stmt = stmt.order_by(column.desc() if item.startswith("-") else column)
        if not any(i.lstrip("-") == self.pk for i in orders):
            stmt = stmt.order_by(getattr(model, self.pk))  # a stable page order
        return stmt

    def _filter(self, stmt: Any, name: str, raw: str) -> Any:
        if name not in self.list_filter or raw == "":
            return stmt
        if name in self.relations:
            local = next(iter(self.relations[name].local_columns))
            key = self.mapper.get_property_by_column(local).key
            column = getattr(self.model, key)
            value: Any = _convert(local, raw)
        else:
            column = getattr(self.model, name)
            if isinstance(self.columns[name].type, Date | DateTime):
                return stmt.where(_date_range(column, self.columns[name], raw))
            value = _convert(self.columns[name], raw)
        if value is _BAD:
            return stmt.where(False)  # a value the column cannot hold: no rows
        return stmt.where(column == value)

    def sortable(self, name: str) -> bool:
        found = self.computed.get(name)
        if found is not None:
            return found.ordering is not None
        return name in self.columns or name in self.relations

    def display(self, obj: Any, name: str) -> Any:
        computed = self.computed.get(name)
        if computed is not None:
            value = computed.get(obj)
            if computed.boolean:
                return "Yes" if value else "No"
            return value
        value = getattr(obj, name)
        if name in self.relations and value is not None:
            return str(value)
        if isinstance(value, bool):
            return "Yes" if value else "No"
        return value


_BAD: Any = object()

#: The date filters' choices (days are UTC days).
_DATE_CHOICES = (
    ("today", "Today"),
    ("7d", "Past 7 days"),
    ("month", "This month"),
    ("year", "This year"),
)


def _date_range(attribute: Any, column: Any, raw: str) -> Any:
    """The condition of a date filter's choice (no rows for an unknown one)."""
    if raw == "none":
        return attribute.is_(None)
    today = datetime.datetime.now(datetime.UTC).date()
    if raw == "today":
        start, end = today, today + datetime.timedelta(days=1)
    elif raw == "7d":
        start, end = (
            today - datetime.timedelta(days=6),
            today + datetime.timedelta(days=1),
        )
    elif raw == "month":
        start = today.replace(day=1)
        end = (start + datetime.timedelta(days=32)).replace(day=1)
    elif raw == "year":
        start, end = (
            today.replace(month=1, day=1),
            today.replace(year=today.year + 1, month=1, day=1),
        )
    else:
        return false()
    if isinstance(column.type, DateTime):
        zone = datetime.UTC if column.type.timezone else None
        low = datetime.datetime.combine(start, datetime.time(), zone)
        high = datetime.datetime.combine(end, datetime.time(), zone)
        return (attribute >= low) & (attribute < high)
    return (attribute >= start) & (attribute < end)


def _unique_fields(mapper: Any, form_class: Any) -> list[str]:
    from sqlalchemy import UniqueConstraint

    table = mapper.local_table
    unique = {c.key for c in table.columns if c.unique}
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint) and len(constraint.columns) == 1:
            unique.add(next(iter(constraint.columns)).key)
    for index in table.indexes:
        if index.unique and len(index.columns) == 1:
            unique.add(next(iter(index.columns)).key)
    names = []
    for prop in mapper.column_attrs:
        if prop.columns[0].key in unique and prop.key in form_class._fields:
            names.append(prop.key)
    return names


def changed_fields(before: dict[str, Any], form: Any) -> list[str]:
    """The fields of a valid form whose value differs from ``before`` (a
    record's initial values; lists compared as sets)."""
    out = []
    for name, value in form.data.items():
        old = before.get(name)
        if isinstance(value, list):
            differs = set(value) != set(old or ())
        else:
            differs = value != old
        if differs:
            out.append(name)
    return out


def build(
    model: type[Any], admin_class: type[ModelAdmin] | None, options: dict[str, Any]
) -> ModelAdmin:
    """The :class:`ModelAdmin` of ``model``: ``admin_class`` with ``options``
    set on it (checked against the model now)."""
    base = admin_class or ModelAdmin
    if not (isinstance(base, type) and issubclass(base, ModelAdmin)):
        raise ImproperlyConfigured(
            f"register({model.__name__}, ...): {base!r} is not a ModelAdmin subclass"
        )
    for key in options:
        if not hasattr(ModelAdmin, key) or key.startswith("_"):
            raise ImproperlyConfigured(f"admin.register(): unknown option {key!r}")
    cls = type(f"{model.__name__}Admin", (base,), options) if options else base
    made: ModelAdmin = cls(model)
    return made


class Inline(ModelAdmin):
    """A child model edited inside its parent's form, one table row per
    child: list it in the parent's ``ModelAdmin.inlines``.

    Attributes:
        model: The child model.
        fk_name: The child's many-to-one relation to the parent (needed only
            when it has several).
        fields: The columns edited in each row (default: every column the
            user sets, but the relation to the parent).
        extra: Empty rows offered for new children.
        max_num: The most children shown and accepted in one form.

    Adding, changing and deleting children needs the child model's own
    ``add``, ``change`` and ``delete`` permissions; seeing them, ``view``.
    """

    fk_name: ClassVar[str | None] = None
    extra: ClassVar[int] = 3
    max_num: ClassVar[int] = 100

    def __init__(self, parent: type[Any]) -> None:
        child = getattr(type(self), "model", None)
        if child is None:
            raise ImproperlyConfigured(f"{type(self).__name__} needs a model")
        mapper = sa_inspect(child)
        to_parent = [
            r
            for r in mapper.relationships
            if r.direction.name == "MANYTOONE"
            and issubclass(parent, r.mapper.class_)
            and (self.fk_name is None or r.key == self.fk_name)
        ]
        from ..auth.models import User

        if issubclass(child, User):
            raise ImproperlyConfigured(
                f"{type(self).__name__}: users are edited on their own pages "
                "(UserAdmin), not inline"
            )
        if len(to_parent) != 1:
            found = "none" if not to_parent else ", ".join(r.key for r in to_parent)
            raise ImproperlyConfigured(
                f"{type(self).__name__}: {child.__name__} needs exactly one "
                f"many-to-one relation to {parent.__name__} (found {found}); "
                "name it with fk_name"
            )
        if self.autocomplete_fields:
            raise ImproperlyConfigured(
                f"{type(self).__name__}: inlines have no autocomplete_fields"
            )
        #: The child's relation to its parent, and its foreign key attribute.
        self.relation: Any = to_parent[0]
        self.fk: str = mapper.get_property_by_column(
            next(iter(self.relation.local_columns))
        ).key
        super().__init__(child)
        #: The prefix of the rows' field names in the parent's form.
        self.prefix: str = self.name

    def _not_edited(self) -> set[str]:
        return {*self.readonly_fields, self.fk}  # the parent sets it

    def children(self, db: Any, parent: Any) -> list[Any]:
        """The parent's children, in key order (at most :attr:`max_num`)."""
        key = getattr(self.model, self.pk)
        stmt = (
            select(self.model)
            .where(getattr(self.model, self.fk) == _parent_key(self.relation, parent))
            .order_by(key)
            .limit(self.max_num)
        )
        return list(db.scalars(stmt).all())


def _parent_key(relation: Any, parent: Any) -> Any:
    """The value the child's foreign key holds for ``parent``."""
    remote = next(iter(relation.remote_side))
    parent_mapper = sa_inspect(type(parent))
    return getattr(parent, parent_mapper.get_property_by_column(remote).key)


def _inline_class(spec: Any) -> type[Inline]:
    if isinstance(spec, type) and issubclass(spec, Inline):
        return spec
    if isinstance(spec, type) and hasattr(spec, "__table__"):
        return type(f"{spec.__name__}Inline", (Inline,), {"model": spec})
    raise ImproperlyConfigured(
        f"inlines: {spec!r} is neither an Inline subclass nor a model"
    )


class RelatedField(IntegerField):
    """A related row's key, typed or picked from suggestions fetched as the
    user types (``admin/admin.js``); without JavaScript, the key is typed."""

    def __init__(
        self, label: str | None = None, *, admin_name: str, relation: str, **kw: Any
    ) -> None:
        super().__init__(label, **kw)
        self.admin_name = admin_name
        self.relation = relation

    def render_input(self, bound: Any) -> Markup:
        from ..helpers import url_for

        base = url_for("admin.autocomplete", model=self.admin_name)
        value = bound.display_value
        listed = f"{bound.common_attrs().get('id', self.name)}-choices"
        return Markup(  # noqa: S704 - every attribute escaped by _attrs
            "<input"
            + _attrs(
                type="text",
                inputmode="numeric",
                value=None if value is None else str(value),
                list=listed,
                autocomplete="off",
                **bound.common_attrs(),
                **{"data-autocomplete": f"{base}?field={self.relation}"},
            )
            + f'><datalist id="{escape(listed)}"></datalist>'
        )


def _convert(column: Any, raw: str) -> Any:
    """A filter's text as a value of ``column`` (``_BAD`` when it cannot be)."""
    kind = column.type
    try:
        if isinstance(kind, Boolean):
            if raw not in ("0", "1"):
                return _BAD
            return raw == "1"
        python = kind.python_type
    except NotImplementedError:
        return raw
    if python is int:
        try:
            number = int(raw)
        except ValueError:
            return _BAD
        low, high = integer_bounds(kind)  # what the column can hold
        return number if low <= number <= high else _BAD
    if python is str:
        return raw if "\x00" not in raw else _BAD
    return raw
