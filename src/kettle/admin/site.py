"""The admin site: ``Admin(app)``, its registry of models, and its pages."""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import func
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.models import User
from ..blueprints import Blueprint
from ..exceptions import HTTPException
from ..exceptions import ImproperlyConfigured
from ..helpers import redirect
from ..helpers import url_for
from ..params import Depends
from ..requests import Request
from ..sessions import flash
from .inlines import InlineRows
from .models import ADD
from .models import CHANGE
from .models import DELETE
from .models import LogEntry
from .options import _BAD
from .options import ModelAdmin
from .options import _convert
from .options import build
from .options import changed_fields
from .sections import AdminSection
from .sections import sections_of

__all__ = ("Admin",)

_MAX_CASCADE_LISTED = 50


def staff_user(user: User) -> User:
    """The logged-in user, if staff (active); else 403 (anonymous: the login
    page, as ``login_required``)."""
    if not (user.is_active and user.is_staff):
        raise HTTPException(403, "The admin is for staff users.")
    return user


Staff = Depends(staff_user)


class Admin:
    """The admin of ``app``: ``admin = Admin(app)``, then
    ``admin.register(Model, ...)`` for each model to manage.

    Its pages live under ``url_prefix`` (``/admin``); staff users log in on
    ``kettle.auth``'s login page (``Auth(app)`` is set up if the app has not
    done it).
    """

    def __init__(
        self,
        app: Any,
        *,
        url_prefix: str = "/admin",
        title: str = "Administration",
        auth_models: bool = True,
    ) -> None:
        from ..auth import Auth
        from .theme import theme_view

        self.app = app
        self.title = title
        self.registry: dict[str, ModelAdmin] = {}
        self._collected: list[AdminSection] = []
        if "auth" not in app.extensions:
            Auth(app)
        here = os.path.dirname(__file__)
        bp = Blueprint(
            "admin",
            url_prefix=url_prefix,
            root_path=here,
            template_folder="templates",
            static_folder="static",
        )
        both = ["GET", "POST"]
        bp.get("/", name="index")(self.index_view)
        bp.get("/{model}/", name="list")(self.list_view)
        bp.post("/{model}/action", name="action")(self.action_view)
        bp.route("/{model}/add", methods=both, name="add")(self.add_view)
        bp.route("/{model}/{pk}/", methods=both, name="change")(self.change_view)
        bp.route("/{model}/{pk}/delete", methods=both, name="delete")(self.delete_view)
        bp.get("/{model}/{pk}/history", name="history")(self.history_view)
        bp.route("/{model}/{pk}/password", methods=both, name="password")(
            self.password_view
        )
        bp.get("/{model}/autocomplete", name="autocomplete")(self.autocomplete_view)
        bp.post("/theme", name="theme")(theme_view)
        if auth_models:
            self._register_auth_models()
        app.on_startup(self.check)
        app.register_blueprint(bp)
        app.extensions["admin"] = self
        self.blueprint = bp

    # -- the registry ------------------------------------------------------------------

    def register(
        self,
        model: type[Any],
        admin_class: type[ModelAdmin] | None = None,
        **options: Any,
    ) -> ModelAdmin:
        """Manage ``model`` in the admin, with ``admin_class``'s options (a
        :class:`ModelAdmin` subclass) or the ``options`` given here
        (``list_display=...``, ``search_fields=...``, ...).

        Raises:
            ImproperlyConfigured: The model is registered already, or an
                option names no column.
        """
        return self._add(build(model, admin_class, options))

    def unregister(self, model: type[Any]) -> None:
        """Stop managing ``model`` (to register it again with other options,
        such as the user model ``Admin`` registers).

        Raises:
            ImproperlyConfigured: The model is not registered.
        """
        found = self._admin_of(model)
        if found is None:
            raise ImproperlyConfigured(f"{model.__name__} is not in the admin")
        del self.registry[found.name]

    def _register_auth_models(self) -> None:
        from ..auth.core import user_model
        from ..auth.models import Group
        from .auth_admin import GroupAdmin
        from .auth_admin import UserAdmin

        for made in (UserAdmin(user_model(self.app)), GroupAdmin(Group)):
            made.section = "Users and groups"
            self._add(made)

    def _add(self, made: ModelAdmin) -> ModelAdmin:
        if made.name in self.registry:
            raise ImproperlyConfigured(
                f"{made.model.__name__} is registered in the admin already"
            )
        self.registry[made.name] = made
        return made

    def _collect(self) -> None:
        """Take in the models of the app's blueprints' admin sections."""
        for bp in list(self.app.blueprints.values()):
            section = sections_of(bp)
            if section is None or section in self._collected:
                continue
            self._collected.append(section)
            for made in section.model_admins:
                self._add(made)

    def check(self) -> None:
        """Take in the models of blueprints' admin sections, and check what
        registrations need of each other (run at start-up): the target of an
        autocomplete field is registered, with ``search_fields``.

        Raises:
            ImproperlyConfigured: One is not, or a model is registered twice.
        """
        self._collect()
        for ma in self.registry.values():
            for rel in ma.autocompleted.values():
                target = self._admin_of(rel.mapper.class_)
                if target is None or not target.search_fields:
                    raise ImproperlyConfigured(
                        f"{type(ma).__name__}.autocomplete_fields: register "
                        f"{rel.mapper.class_.__name__} in the admin with "
                        "search_fields, which the suggestions are searched in"
                    )

    def _admin_of(self, model: type[Any]) -> ModelAdmin | None:
        return next((m for m in self.registry.values() if m.model is model), None)

    def _model(self, name: str, user: User, action: str) -> ModelAdmin:
        found = self.registry.get(name)
        if found is None:
            raise HTTPException(404, f"No model {name!r} in the admin.")
        if not found.can(user, action):
            raise HTTPException(
                403,
                f"You may not {action} {found.label} records "
                f"(needs {found.perm(action)}).",
            )
        return found

    def _object(self, db: Session, ma: ModelAdmin, pk: str) -> Any:
        value = _convert(ma.columns[ma.pk], pk)
        obj = None if value is _BAD else db.get(ma.model, value)
        if obj is None:
            raise HTTPException(404, f"No {ma.label} with key {pk!r}.")
        return obj

    def _allowed(self, ma: ModelAdmin, user: User, objects: Any, action: str) -> None:
        """Refuse (403) when ``user`` may not ``action`` one of ``objects``."""
        for obj in objects:
            if not ma.can_object(user, obj, action):
                raise HTTPException(
                    403, f"You may not {action} the {ma.label} “{obj}”."
                )

    def _render(self, template: str, **context: Any) -> Any:
        from ..templating import render

        return render(template, admin=self, **context)

    def _log(
        self,
        db: Session,
        user: User,
        ma: ModelAdmin,
        obj: Any,
        action: str,
        message: str = "",
    ) -> None:
        db.add(
            LogEntry(
                user_id=user.id,
                model=ma.name,
                object_id=str(getattr(obj, ma.pk)),
                object_repr=str(obj)[:200],
                action=action,
                message=message,
            )
        )

    # -- pages ----------------------------------------------------------------------

    def index_view(self, db: Session, user: Any = Staff) -> Any:
        """The dashboard: the models the user may see, and their recent changes."""
        models = [ma for ma in self.registry.values() if ma.can(user, "view")]
        recent = db.scalars(
            select(LogEntry)
            .where(LogEntry.user_id == user.id)
            .order_by(LogEntry.action_time.desc(), LogEntry.id.desc())
            .limit(10)
        ).all()
        groups: dict[str, list[ModelAdmin]] = {}
        for ma in sorted(models, key=lambda m: (m.section is not None, m.label)):
            groups.setdefault(ma.section or "Models", []).append(ma)
        return self._render(
            "admin/index.html",
            models=models,
            groups=groups,
            recent=recent,
            user=user,
        )

    def list_view(
        self,
        request: Request,
        model: str,
        db: Session,
        q: str = "",
        o: str = "",
        page: int = 1,
        user: Any = Staff,
    ) -> Any:
        """A model's rows: searched, filtered, sorted, a page at a time."""
        from ..db import paginate

        ma = self._model(model, user, "view")
        if o and not ma.sortable(o.lstrip("-")):
            o = ""
        filters = {
            key[2:]: value
            for key, value in request.query.items()
            if key.startswith("f.") and key[2:] in ma.list_filter
        }
        stmt = ma.statement(q[:200], o, filters)
        result = paginate(db, stmt, max(1, page), ma.per_page, max_per_page=ma.per_page)
        choices = {}
        for spec in ma.filters():
            if spec["kind"] == "fk":
                rel = ma.relations[spec["name"]]
                rows = db.scalars(select(rel.mapper.class_).limit(100)).all()
                key = sa_inspect(rel.mapper.class_).primary_key[0].key
                choices[spec["name"]] = [(str(getattr(r, key)), str(r)) for r in rows]
            else:
                choices[spec["name"]] = spec["choices"]
        actions = [
            (f.__name__, f.admin_description)  # type: ignore[attr-defined]
            for f in ma.actions
            if ma.can(user, f.admin_permission)  # type: ignore[attr-defined]
        ]
        if ma.can(user, "delete"):
            actions.insert(0, ("delete_selected", "Delete selected"))

        def link(**changes: Any) -> str:
            """This list's URL with ``changes`` (``o=``, ``page=``)."""
            params: dict[str, Any] = {"q": q, "o": o}
            params.update({f"f.{k}": v for k, v in filters.items()})
            params.update(changes)
            kept = {k: v for k, v in params.items() if v not in ("", None)}
            return str(url_for("admin.list", model=ma.name, **kept))

        return self._render(
            "admin/list.html",
            ma=ma,
            link=link,
            page=result,
            q=q,
            o=o,
            filters=ma.filters(),
            choices=choices,
            active=filters,
            actions=actions,
            can_add=ma.can(user, "add"),
            user=user,
        )

    def action_view(
        self, request: Request, model: str, db: Session, user: Any = Staff
    ) -> Any:
        """A bulk action on the selected rows (delete asks first)."""
        ma = self._model(model, user, "view")
        form = request.get_form()
        name = form.get("action") or ""
        ids = [i for i in form.getlist("ids") if isinstance(i, str)][:1000]
        back = url_for("admin.list", model=ma.name)
        keys = [
            v for v in (_convert(ma.columns[ma.pk], i) for i in ids) if v is not _BAD
        ]
        if not keys:
            flash("Select some rows first.", "error")
            return redirect(back, 303)
        objects = db.scalars(
            select(ma.model).where(getattr(ma.model, ma.pk).in_(keys))
        ).all()
        if name == "delete_selected":
            if not ma.can(user, "delete"):
                raise HTTPException(403, f"You may not delete {ma.label} records.")
            self._allowed(ma, user, objects, "delete")
            if form.get("confirm") != "yes":
                return self._render(
                    "admin/delete.html",
                    ma=ma,
                    objects=objects,
                    cascades=[c for obj in objects for c in _cascades(db, obj)][
                        :_MAX_CASCADE_LISTED
                    ],
                    action_url=url_for("admin.action", model=ma.name),
                    ids=[str(getattr(o, ma.pk)) for o in objects],
                    user=user,
                )
            if self._deleted(db, user, ma, objects):
                flash(f"Deleted {len(objects)} {ma.label} record(s).", "success")
            return redirect(back, 303)
        chosen = next((f for f in ma.actions if f.__name__ == name), None)
        if chosen is None:
            raise HTTPException(400, f"Unknown action {name!r}.")
        if not ma.can(user, chosen.admin_permission):  # type: ignore[attr-defined]
            raise HTTPException(403, "You may not run this action.")
        self._allowed(ma, user, objects, "change")
        message = chosen(db, objects)
        for obj in objects:
            self._log(db, user, ma, obj, CHANGE, f"Action: {chosen.admin_description}.")  # type: ignore[attr-defined]
        flash(message or f"Done for {len(objects)} record(s).", "success")
        return redirect(back, 303)

    def autocomplete_view(
        self, model: str, db: Session, field: str = "", q: str = "", user: Any = Staff
    ) -> Any:
        """Suggestions for an autocomplete field: ``[{"id", "label"}]``, the
        first 20 rows of the related model whose ``search_fields`` hold
        ``q``."""
        ma = self._model(model, user, "view")
        rel = next((r for r in ma.autocompleted.values() if r.key == field), None)
        if rel is None:
            raise HTTPException(404, f"{ma.label} has no autocomplete field {field!r}.")
        target = self._admin_of(rel.mapper.class_)
        if target is None or not target.can(user, "view"):
            raise HTTPException(403, "You may not see these records.")
        rows = db.scalars(target.statement(q[:200], "", {}).limit(20)).all()
        return [{"id": getattr(r, target.pk), "label": str(r)} for r in rows]

    def _check_related(self, db: Session, ma: ModelAdmin, form: Any) -> bool:
        """Whether each autocomplete field's key names an existing row (its
        error is added to the form otherwise)."""
        ok = True
        for key, rel in ma.autocompleted.items():
            value = form.data.get(key)
            if value is not None and db.get(rel.mapper.class_, value) is None:
                form.add_error(key, f"Choose an existing {rel.mapper.class_.__name__}.")
                ok = False
        return ok

    def _inline_rows(
        self, db: Session, ma: ModelAdmin, user: User, obj: Any, request: Request
    ) -> list[InlineRows]:
        """The rows of each inline the user may see, bound to a submission."""
        from ..forms import _body_kind

        if not ma.inline_admins:
            return []
        kind = _body_kind(request)
        data: Any = None
        if kind == "form":
            data = request.get_form()
        elif kind == "json":
            body = request.get_json()
            data = body if isinstance(body, dict) else None
        return [
            InlineRows(
                inline,
                user,
                inline.children(db, obj) if obj is not None else [],
                data,
            )
            for inline in ma.inline_admins
            if inline.can(user, "view")
        ]

    def add_view(
        self, request: Request, model: str, db: Session, user: Any = Staff
    ) -> Any:
        """A new row, from the model's form (with its inlines' rows)."""
        ma = self._model(model, user, "add")
        form = ma.get_form_class(None).from_request_sync(request)
        inlines = self._inline_rows(db, ma, user, None, request)
        if request.method == "POST" and self._checked(
            db, ma, form, inlines, None, user
        ):
            saved = self._saved(db, ma, form, inlines, None)
            if saved is not None:
                obj, done = saved
                self._log(db, user, ma, obj, ADD, " ".join(done))
                flash(f"Added {ma.label} “{obj}”.", "success")
                return redirect(url_for("admin.list", model=ma.name), 303)
        return self._render(
            "admin/form.html",
            ma=ma,
            form=form,
            obj=None,
            inlines=inlines,
            user=user,
        )

    def change_view(
        self, request: Request, model: str, pk: str, db: Session, user: Any = Staff
    ) -> Any:
        """One row: shown to those who may view it, edited by those who may
        change it (with its inlines' rows)."""
        ma = self._model(model, user, "view")
        obj = self._object(db, ma, pk)
        can_change = ma.can(user, "change")
        if request.method == "POST" and not can_change:
            raise HTTPException(403, f"You may not change {ma.label} records.")
        if request.method == "POST":
            self._allowed(ma, user, [obj], "change")
        can_change = can_change and ma.can_object(user, obj, "change")
        inlines = self._inline_rows(db, ma, user, obj, request)
        form_class = ma.get_form_class(obj)
        if request.method == "POST":
            form = form_class.from_request_sync(request)
            if self._checked(db, ma, form, inlines, obj, user):
                before = ma.initial(obj)
                saved = self._saved(db, ma, form, inlines, obj)
                if saved is not None:
                    changed = changed_fields(before, form)
                    done = [f"Changed {', '.join(changed)}."] if changed else []
                    done += saved[1]
                    message = " ".join(done) or "No changes."
                    self._log(db, user, ma, obj, CHANGE, message)
                    flash(f"Saved {ma.label} “{obj}”.", "success")
                    return redirect(url_for("admin.list", model=ma.name), 303)
        else:
            form = form_class(initial=ma.initial(obj))
        readonly = [(k, getattr(obj, k)) for k in ma.readonly_fields]
        return self._render(
            "admin/form.html",
            ma=ma,
            form=form,
            obj=obj,
            pk=pk,
            readonly=readonly,
            inlines=inlines,
            can_change=can_change,
            can_delete=ma.can(user, "delete"),
            user=user,
        )

    def _deleted(self, db: Session, user: User, ma: ModelAdmin, objects: Any) -> bool:
        """Delete ``objects`` (logged) in a savepoint: False, with a message
        flashed, when the database refuses (rows that still refer to them)."""
        from sqlalchemy.exc import IntegrityError

        savepoint = db.begin_nested()
        try:
            for obj in objects:
                self._log(db, user, ma, obj, DELETE)
                db.delete(obj)
            db.flush()
        except IntegrityError:
            savepoint.rollback()
            flash(
                f"Nothing was deleted: other records still refer to the {ma.label} "
                "record(s). Delete or change those first.",
                "error",
            )
            return False
        savepoint.commit()
        return True

    def _checked(
        self,
        db: Session,
        ma: ModelAdmin,
        form: Any,
        inlines: list[InlineRows],
        obj: Any,
        user: User,
    ) -> bool:
        """Whether the form and its inlines are valid, its related keys
        exist and its unique values are free (each check runs, so that every
        error shows)."""
        results = [
            _all_valid(form, inlines),
            self._check_related(db, ma, form),
            form.is_valid() and ma.check_form(db, form, obj, user),
        ]
        return all(results)

    def _saved(
        self,
        db: Session,
        ma: ModelAdmin,
        form: Any,
        inlines: list[InlineRows],
        obj: Any,
    ) -> tuple[Any, list[str]] | None:
        """Save the form (``obj`` None: a new row) and its inlines in a
        savepoint: the object and what was done to its inlines' rows, or None
        when the database refused them (the
        form then says so; nothing is half-written)."""
        from sqlalchemy.exc import IntegrityError

        savepoint = db.begin_nested()
        try:
            target = ma.save_form(db, form, obj if obj is not None else ma.model())
            db.add(target)
            db.flush()
            done = [line for rows in inlines for line in rows.save(db, target)]
            db.flush()
        except IntegrityError:
            savepoint.rollback()
            form.add_error(
                None,
                f"The {ma.label} could not be saved: a value must be unique, "
                "or a related record is gone. Check the values and try again.",
            )
            return None
        savepoint.commit()
        return target, done

    def delete_view(
        self, request: Request, model: str, pk: str, db: Session, user: Any = Staff
    ) -> Any:
        """Delete one row, after a page that lists what goes with it."""
        ma = self._model(model, user, "delete")
        obj = self._object(db, ma, pk)
        self._allowed(ma, user, [obj], "delete")
        if request.method == "POST":
            name = str(obj)
            if self._deleted(db, user, ma, [obj]):
                flash(f"Deleted {ma.label} “{name}”.", "success")
                return redirect(url_for("admin.list", model=ma.name), 303)
            return redirect(url_for("admin.change", model=ma.name, pk=pk), 303)
        return self._render(
            "admin/delete.html",
            ma=ma,
            objects=[obj],
            cascades=_cascades(db, obj)[:_MAX_CASCADE_LISTED],
            action_url=url_for("admin.delete", model=ma.name, pk=pk),
            ids=None,
            user=user,
        )

    def password_view(
        self, request: Request, model: str, pk: str, db: Session, user: Any = Staff
    ) -> Any:
        """Set a user's password (its hash is never shown): checked by
        ``AUTH_PASSWORD_VALIDATORS``; the user's other sessions end and
        their API tokens are revoked."""
        from ..auth import revoke_tokens
        from ..auth import update_session_auth_hash

        ma = self._model(model, user, "change")
        if not ma.has_password:
            raise HTTPException(404, f"{ma.label} records have no password.")
        obj = self._object(db, ma, pk)
        self._allowed(ma, user, [obj], "change")
        form = ma.password_form_class.from_request_sync(request)  # type: ignore[attr-defined]
        form.user = obj
        if request.method == "POST" and form.is_valid():
            obj.set_password(form.data["password"])
            revoke_tokens(db, obj)
            if obj.id == user.id:
                update_session_auth_hash(request, obj)  # stays logged in here
            self._log(db, user, ma, obj, CHANGE, "Changed password.")
            flash(f"Set the password of {ma.label} “{obj}”.", "success")
            return redirect(url_for("admin.change", model=ma.name, pk=pk), 303)
        return self._render(
            "admin/password.html", ma=ma, obj=obj, pk=pk, form=form, user=user
        )

    def history_view(self, model: str, pk: str, db: Session, user: Any = Staff) -> Any:
        """Who changed this row, and when."""
        ma = self._model(model, user, "view")
        obj = self._object(db, ma, pk)
        entries = db.execute(
            select(LogEntry, User.username)
            .outerjoin(User, User.id == LogEntry.user_id)
            .where(
                LogEntry.model == ma.name,
                LogEntry.object_id == str(getattr(obj, ma.pk)),
            )
            .order_by(LogEntry.action_time.desc(), LogEntry.id.desc())
        ).all()
        return self._render(
            "admin/history.html", ma=ma, obj=obj, entries=entries, user=user
        )


def _all_valid(form: Any, inlines: list[InlineRows]) -> bool:
    """Whether the form and every inline row are valid (all are checked, so
    that each shows its errors)."""
    results = [form.is_valid(), *(rows.is_valid() for rows in inlines)]
    return all(results)


def _cascades(db: Session, obj: Any) -> list[str]:
    """What deleting ``obj`` deletes too: the rows the ORM cascades to, and
    counts of rows whose foreign key deletes them (``ON DELETE CASCADE``)."""
    state = sa_inspect(obj)
    out = [
        f"{type(other).__name__}: {other}"
        for other, *_ in state.mapper.cascade_iterator("delete", state)
    ]
    table = state.mapper.local_table
    pk_column = state.mapper.primary_key[0]
    value = state.identity[0] if state.identity else None
    for other in table.metadata.tables.values():
        for fk in other.foreign_keys:
            if fk.column is pk_column and (fk.ondelete or "").upper() == "CASCADE":
                count = db.scalar(
                    select(func.count()).select_from(other).where(fk.parent == value)
                )
                if count:
                    out.append(f"{count} row(s) of {other.name}")
    return out
