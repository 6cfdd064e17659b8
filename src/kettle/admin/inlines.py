"""An inline's rows in its parent's form: shown, bound to a submission,
checked, and saved with the parent."""

from __future__ import annotations

import copy
import enum
from typing import Any

from ..exceptions import HTTPException
from ..forms import BooleanField
from ..forms import ChoiceField
from ..forms import Form
from ..forms import _ticked
from ..forms import initial_from
from ..forms import populate
from .options import _BAD
from .options import Inline
from .options import _convert
from .options import changed_fields

__all__ = ("InlineRows",)


class Row:
    """One child's row: its form, the child (None for a new one), and whether
    it is to be deleted."""

    __slots__ = ("delete", "editable", "form", "index", "obj")

    def __init__(
        self, index: int, form: Form, obj: Any, *, editable: bool, delete: bool
    ) -> None:
        self.index = index
        self.form = form
        self.obj = obj
        self.editable = editable
        self.delete = delete

    @property
    def submitted(self) -> bool:
        """Whether this row's form is to be checked and saved."""
        return self.form.is_bound and not self.delete


class InlineRows:
    """The rows of ``inline`` in one parent's form page, for ``user``.

    Rows of existing children come first, then :attr:`Inline.extra` empty
    ones for new children (when the user may add). A submission names each
    existing child by its key, which must be one of the parent's children.
    """

    def __init__(
        self, inline: Inline, user: Any, children: list[Any], data: Any = None
    ) -> None:
        self.inline = inline
        #: The rows' form, its choices read once for every row.
        self.form_class: Any = _choices_read_once(inline.form_class)
        self.can_add = inline.can(user, "add")
        self.can_change = inline.can(user, "change")
        self.can_delete = inline.can(user, "delete")
        self.rows: list[Row] = []
        prefix = inline.prefix
        if data is None or data.get(f"{prefix}-rows") is None:
            # not submitted (or not part of this submission: left alone)
            initial_of = self.form_class
            for obj in children:
                form = initial_of(
                    initial=initial_from(obj, initial_of),
                    prefix=self.row_prefix(len(self.rows)),
                )
                self.rows.append(
                    Row(
                        len(self.rows),
                        form,
                        obj,
                        editable=self.can_change,
                        delete=False,
                    )
                )
            if self.can_add:
                room = max(0, inline.max_num - len(children))
                for _ in range(min(inline.extra, room)):
                    form = self.form_class(prefix=self.row_prefix(len(self.rows)))
                    self.rows.append(
                        Row(len(self.rows), form, None, editable=True, delete=False)
                    )
            return
        self._bind(children, data, prefix)

    def row_prefix(self, index: int) -> str:
        return f"{self.inline.prefix}-{index}"

    def field_name(self, index: int, name: str) -> str:
        """The name of a row's own inputs (its key, its delete box)."""
        return f"{self.row_prefix(index)}-_{name}"

    def _bind(self, children: list[Any], data: Any, prefix: str) -> None:
        inline = self.inline
        label = inline.label
        raw_count = data.get(f"{prefix}-rows")
        try:
            count = int(raw_count)
        except (TypeError, ValueError):
            raise HTTPException(
                400, f"The form's {label} rows are missing their count."
            ) from None
        if not 0 <= count <= inline.max_num + inline.extra:
            raise HTTPException(
                400, f"At most {inline.max_num} {label} rows can be sent at once."
            )
        by_key = {str(getattr(c, inline.pk)): c for c in children}
        seen: set[str] = set()
        pk_column = inline.columns[inline.pk]
        for index in range(count):
            key = data.get(self.field_name(index, "key"))
            if key is not None and not isinstance(key, str | int):
                raise HTTPException(400, f"A {label} row's key must be a string.")
            key = str(key) if key is not None else None
            deleting = bool(data.get(self.field_name(index, "delete")))
            row_prefix = self.row_prefix(index)
            if key:
                value = _convert(pk_column, key)
                obj = by_key.get(str(value)) if value is not _BAD else None
                if obj is None or str(value) in seen:
                    raise HTTPException(
                        400,
                        f"{label} {key!r} is not a child of this record "
                        "(reload the page: it may have changed meanwhile).",
                    )
                seen.add(str(value))
                if deleting and not self.can_delete:
                    raise HTTPException(403, f"You may not delete {label} records.")
                if self.can_change and not deleting:
                    form = self.form_class(data, prefix=row_prefix)
                else:
                    form = self.form_class(
                        initial=initial_from(obj, self.form_class), prefix=row_prefix
                    )
                self.rows.append(
                    Row(index, form, obj, editable=self.can_change, delete=deleting)
                )
                continue
            form = self.form_class(data, prefix=row_prefix)
            if _blank(form):
                form = self.form_class(prefix=row_prefix)  # shown empty again
            elif not self.can_add:
                raise HTTPException(403, f"You may not add {label} records.")
            self.rows.append(Row(index, form, None, editable=True, delete=False))
        deleted = sum(1 for r in self.rows if r.delete)
        added = sum(1 for r in self.rows if r.obj is None and r.submitted)
        if len(children) - deleted + added > inline.max_num:
            raise HTTPException(
                400, f"A record holds at most {inline.max_num} {label} rows here."
            )

    def is_valid(self) -> bool:
        """Whether every submitted row's form is valid (run them all, so each
        shows its errors)."""
        results = [row.form.is_valid() for row in self.rows if row.submitted]
        return all(results)

    def save(self, db: Any, parent: Any) -> list[str]:
        """Apply the rows to the database (after the parent is flushed): what
        was done, in words, for the parent's history."""
        inline = self.inline
        done: list[str] = []
        for row in self.rows:
            if row.delete:
                done.append(f"Deleted {inline.label} “{row.obj}”.")
                db.delete(row.obj)
        if done:
            db.flush()  # before new rows take a deleted one's unique value
        for row in self.rows:
            if row.delete:
                continue
            if row.submitted and row.obj is not None:
                changed = changed_fields(
                    initial_from(row.obj, type(row.form)), row.form
                )
                if changed:
                    populate(row.form, row.obj)
                    done.append(
                        f"Changed {', '.join(changed)} of {inline.label} “{row.obj}”."
                    )
            elif row.submitted:
                child = populate(row.form, inline.model(), db)
                setattr(child, inline.relation.key, parent)
                db.add(child)
                done.append(f"Added {inline.label} “{child}”.")
        return done


def _blank(form: Form) -> bool:
    """Whether a new row was left as it was shown (not to be saved)."""
    for name, field in form._fields.items():
        raw = form.raw.get(name)
        if isinstance(raw, str):
            raw = raw.strip()
        default = field.default
        if isinstance(field, BooleanField):
            if _ticked(raw) != bool(default):
                return False
            continue
        if raw in (None, ""):
            continue
        if isinstance(default, enum.Enum):
            default = default.name  # as a select shows a member
        if default is not None and str(raw) == str(default):
            continue
        return False
    return True


def _choices_read_once(form_class: Any) -> Any:
    """``form_class`` with each choice field's choices read now, once (not
    once per row: a query each for choices read from the database)."""
    fixed = {}
    for name, field in form_class._fields.items():
        if isinstance(field, ChoiceField) and callable(field._choices):
            made = copy.copy(field)
            made._choices = field.choices
            fixed[name] = made
    if not fixed:
        return form_class
    return type(form_class.__name__, (form_class,), fixed)
