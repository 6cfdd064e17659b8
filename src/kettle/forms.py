"""Forms: declared once, checked on the server, rendered to accessible HTML.

A :class:`Form` subclass lists its fields; a handler takes it by annotation and
gets it bound to the request's form body (or JSON body), or empty on a GET::

    class CommentForm(Form):
        name = StringField("Name", max_length=80)
        email = EmailField("Email", required=False)
        body = TextField("Comment", min_length=3, max_length=2000)

    @app.route("/comment", methods=["GET", "POST"])
    def comment(form: CommentForm):
        if form.is_valid():
            save(form.data)
            return redirect("/thanks")
        return render("comment.html", form=form)   # {{ form }} in the template

``{{ form }}`` renders every field (label, input, help, errors) and the CSRF
field; ``{{ form.name }}`` one field. What the user typed is kept on error, and
everything is escaped. Checks run in order: the field's own (required, length,
range, choices, format), its ``validators``, the form's ``validate_<name>()``,
then the form's :meth:`Form.validate` for checks across fields.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import re
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from typing import TYPE_CHECKING
from typing import Any
from typing import ClassVar
from urllib.parse import urlsplit

from markupsafe import Markup
from markupsafe import escape

from .requests import Request

if TYPE_CHECKING:
    from .formparsers import UploadFile

__all__ = (
    "BooleanField",
    "ChoiceField",
    "DateField",
    "DateTimeField",
    "DecimalField",
    "EmailField",
    "Field",
    "FileField",
    "FloatField",
    "Form",
    "HiddenField",
    "IntegerField",
    "MultipleChoiceField",
    "PasswordField",
    "StringField",
    "TextField",
    "URLField",
    "ValidationError",
    "initial_from",
    "model_form",
    "populate",
)

_EMAIL = re.compile(
    r"^[^@\s<>()\[\],;:\"]+@[^@\s<>()\[\],;:\"]+\.[^@\s<>()\[\],;:\"]+$"
)
_EMPTY: tuple[Any, ...] = (None, "", [], ())


class ValidationError(ValueError):
    """A value that is not acceptable; its message is shown next to the field."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


Validator = Callable[[Any], Any]


def _attrs(**attrs: Any) -> str:
    """HTML attributes, escaped: ``True`` writes the bare name, None/False none."""
    out = []
    for name, value in attrs.items():
        if value is None or value is False:
            continue
        name = name.rstrip("_").replace("_", "-")
        if value is True:
            out.append(f" {name}")
        else:
            out.append(f' {name}="{escape(value)}"')
    return "".join(out)


# -- fields ---------------------------------------------------------------------------


class Field:
    """A form field: how to read, check and render one value.

    Args:
        label: The label shown (default: the attribute name, capitalised).
        required: An empty value is an error ("This field is required.").
        default: The value shown before the form is submitted (and the value of
            an optional field left empty).
        help_text: A hint shown under the field (linked for screen readers).
        validators: More checks: callables taking the converted value, raising
            :class:`ValidationError` (or returning a new value).
        min_length, max_length: Text length limits.
        regex: A pattern the whole text must match (``message``: its error).
        placeholder, autocomplete: Passed to the input.
    """

    input_type = "text"
    #: Whether the submitted text is shown again when the form has errors.
    keep_input = True

    name: str = ""

    def __init__(
        self,
        label: str | None = None,
        *,
        required: bool = True,
        default: Any = None,
        help_text: str | None = None,
        validators: Sequence[Validator] = (),
        min_length: int | None = None,
        max_length: int | None = None,
        regex: str | None = None,
        message: str | None = None,
        placeholder: str | None = None,
        autocomplete: str | None = None,
    ) -> None:
        self.label = label
        self.required = required
        self.default = default
        self.help_text = help_text
        self.validators = tuple(validators)
        self.min_length = min_length
        self.max_length = max_length
        self.regex = re.compile(regex) if regex is not None else None
        self.message = message
        self.placeholder = placeholder
        self.autocomplete = autocomplete

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        if self.label is None:
            self.label = name.replace("_", " ").capitalize()

    def __get__(self, form: Any, owner: type | None = None) -> Any:
        # On a form, a field is its BoundField (``{{ form.name }}``); on the
        # class, the field itself.
        if form is None:
            return self
        return BoundField(form, self)

    # reading and checking

    def raw_value(self, data: Any, files: Any) -> Any:
        """The submitted value of this field (``data`` supports ``get``)."""
        return data.get(self.name) if data is not None else None

    def clean(self, raw: Any) -> Any:
        """Convert and check a submitted value (raises :class:`ValidationError`)."""
        if isinstance(raw, str):
            raw = raw.strip()
        if raw in _EMPTY:
            if self.required:
                raise ValidationError("This field is required.")
            return self.default
        value = self.convert(raw)
        self.check(value)
        return self.run_validators(value)

    def run_validators(self, value: Any) -> Any:
        """Run ``validators`` in turn; each may return a new value."""
        for validator in self.validators:
            result = validator(value)
            if result is not None:
                value = result
        return value

    def convert(self, raw: Any) -> Any:
        """The Python value of a non-empty submitted value."""
        if not isinstance(raw, str | int | float | decimal.Decimal):
            raise ValidationError("Enter text.")
        return str(raw)

    def check(self, value: Any) -> None:
        """The field's own checks of a converted value."""
        if isinstance(value, str):
            if "\x00" in value:  # no database stores it (PostgreSQL refuses it)
                raise ValidationError("Remove the NUL character from the text.")
            if self.min_length is not None and len(value) < self.min_length:
                raise ValidationError(
                    f"Enter at least {self.min_length} characters "
                    f"(it has {len(value)})."
                )
            if self.max_length is not None and len(value) > self.max_length:
                raise ValidationError(
                    f"Enter at most {self.max_length} characters (it has {len(value)})."
                )
            if self.regex is not None and not self.regex.fullmatch(value):
                raise ValidationError(
                    self.message or "Enter a value in the format asked."
                )

    # rendering

    def input_attrs(self, bound: BoundField) -> dict[str, Any]:
        return {
            "minlength": self.min_length,
            "maxlength": self.max_length,
            "pattern": self.regex.pattern if self.regex is not None else None,
            "placeholder": self.placeholder,
            "autocomplete": self.autocomplete,
        }

    def render_input(self, bound: BoundField) -> Markup:
        value = bound.display_value
        return Markup(  # noqa: S704 - every attribute escaped by _attrs
            "<input"
            + _attrs(
                type=self.input_type,
                value=None if value is None else str(value),
                **bound.common_attrs(),
                **self.input_attrs(bound),
            )
            + ">"
        )


class StringField(Field):
    """One line of text (surrounding spaces removed)."""


class TextField(StringField):
    """Text of several lines (a ``<textarea>``)."""

    def render_input(self, bound: BoundField) -> Markup:
        value = bound.display_value
        attrs = self.input_attrs(bound)
        attrs.pop("pattern")
        return Markup(  # noqa: S704 - escaped
            "<textarea"
            + _attrs(
                **bound.common_attrs(),
                **attrs,
            )
            + ">"
            + str(escape("" if value is None else value))
            + "</textarea>"
        )


class PasswordField(StringField):
    """A password: never written back into the page."""

    input_type = "password"
    keep_input = False


class HiddenField(StringField):
    """A value the page carries without showing it."""

    input_type = "hidden"


class EmailField(StringField):
    """An email address."""

    input_type = "email"

    def check(self, value: Any) -> None:
        super().check(value)
        if len(value) > 254 or not _EMAIL.match(value):
            raise ValidationError("Enter a valid email address.")


class URLField(StringField):
    """An ``http`` or ``https`` URL."""

    input_type = "url"

    def check(self, value: Any) -> None:
        super().check(value)
        try:
            parts = urlsplit(value)
        except ValueError:  # a malformed host ("http://[oops/")
            raise ValidationError("Enter a valid URL (http:// or https://).") from None
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValidationError("Enter a valid URL (http:// or https://).")


class _RangedField(Field):
    """A field of ordered values: ``min_value``, ``max_value``."""

    #: The messages of a value below or above the range.
    below = "Enter a number of at least {}."
    above = "Enter a number of at most {}."

    def __init__(
        self,
        label: str | None = None,
        *,
        min_value: Any = None,
        max_value: Any = None,
        **options: Any,
    ) -> None:
        super().__init__(label, **options)
        self.min_value = min_value
        self.max_value = max_value

    def check(self, value: Any) -> None:
        try:
            if self.min_value is not None and value < self.min_value:
                raise ValidationError(self.below.format(self.min_value))
            if self.max_value is not None and value > self.max_value:
                raise ValidationError(self.above.format(self.max_value))
        except TypeError:  # a time with a zone against one without, say
            bound = self.min_value if self.min_value is not None else self.max_value
            raise ValidationError(f"Enter a value like {bound}.") from None

    def input_attrs(self, bound: BoundField) -> dict[str, Any]:
        return {"min": self.min_value, "max": self.max_value}


class _NumberField(_RangedField):
    input_type = "number"
    what = "a number"
    step: str | None = None

    def convert(self, raw: Any) -> Any:
        if isinstance(raw, bool):
            raise ValidationError(f"Enter {self.what}.")
        try:
            return self.parse(raw)
        except (TypeError, ValueError, ArithmeticError):
            raise ValidationError(f"Enter {self.what}.") from None

    def parse(self, raw: Any) -> Any:
        """The number of a submitted value (raises ValueError)."""
        return _to_int(raw)

    def input_attrs(self, bound: BoundField) -> dict[str, Any]:
        return {**super().input_attrs(bound), "step": self.step}


def _to_int(raw: Any) -> int:
    if isinstance(raw, float) and not raw.is_integer():
        raise ValueError(raw)
    if isinstance(raw, str) and len(raw) > 50:
        raise ValueError(raw)
    return int(raw)


class IntegerField(_NumberField):
    """A whole number (``min_value``, ``max_value``)."""

    what = "a whole number"


def _to_float(raw: Any) -> float:
    value = float(raw)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(raw)
    return value


class FloatField(_NumberField):
    """A number with a fraction (``min_value``, ``max_value``)."""

    step = "any"

    def parse(self, raw: Any) -> Any:
        return _to_float(raw)


def _to_decimal(raw: Any) -> decimal.Decimal:
    text = str(raw)
    if len(text) > 100:
        raise ValueError(raw)
    value = decimal.Decimal(text)
    if not value.is_finite() or abs(value.adjusted()) > 100:
        raise ValueError(raw)
    return value


class DecimalField(_NumberField):
    """An exact decimal number (money: ``places`` digits after the point)."""

    def parse(self, raw: Any) -> Any:
        return _to_decimal(raw)

    def __init__(
        self, label: str | None = None, *, places: int | None = None, **options: Any
    ) -> None:
        super().__init__(label, **options)
        self.places = places
        self.step = "any" if places is None else str(decimal.Decimal(1).scaleb(-places))

    def check(self, value: Any) -> None:
        super().check(value)
        exponent = value.as_tuple().exponent
        if (
            self.places is not None
            and isinstance(exponent, int)
            and -exponent > self.places
        ):
            raise ValidationError(f"Enter at most {self.places} decimal places.")


class BooleanField(Field):
    """A checkbox; ``required=True`` (the default: False) means it must be ticked."""

    input_type = "checkbox"

    def __init__(
        self, label: str | None = None, *, required: bool = False, **options: Any
    ) -> None:
        super().__init__(label, required=required, **options)

    def clean(self, raw: Any) -> Any:
        value = _ticked(raw)
        if self.required and not value:
            raise ValidationError("Tick this box to go on.")
        return self.run_validators(value)

    def render_input(self, bound: BoundField) -> Markup:
        checked = _ticked(bound.value)
        return Markup(  # noqa: S704 - escaped
            "<input"
            + _attrs(
                type="checkbox",
                value="on",
                checked=checked,
                **bound.common_attrs(),
            )
            + ">"
        )


def _ticked(raw: Any) -> bool:
    """Whether a checkbox's value (a form's ``"on"``, JSON's ``true``) ticks it."""
    if isinstance(raw, bool):
        return raw
    return str(raw or "").strip().lower() in ("on", "1", "true", "yes", "y")


Choices = Iterable[tuple[Any, str]] | Callable[[], Iterable[tuple[Any, str]]]


class ChoiceField(Field):
    """One of a list of ``(value, label)`` choices (a ``<select>``); ``choices``
    may be a function, called each time the form is checked or rendered (choices
    read from the database)."""

    def __init__(
        self, label: str | None = None, *, choices: Choices, **options: Any
    ) -> None:
        super().__init__(label, **options)
        self._choices = choices

    @property
    def choices(self) -> list[tuple[Any, str]]:
        made = self._choices() if callable(self._choices) else self._choices
        return [(value, str(text)) for value, text in made]

    def convert(self, raw: Any) -> Any:
        for value, _ in self.choices:
            if str(value) == str(raw):
                return value
        raise ValidationError("Choose one of the options given.")

    def render_input(self, bound: BoundField) -> Markup:
        current = bound.value
        if isinstance(current, enum.Enum):  # a record's value: shown by name
            current = current.name
        current = "" if current is None else str(current)
        options = [
            f"<option{_attrs(value='', selected=current == '')}>—</option>"
            if not self.required or current == ""
            else ""
        ]
        for value, text in self.choices:
            options.append(
                f"<option{_attrs(value=str(value), selected=str(value) == current)}>"
                f"{escape(text)}</option>"
            )
        return Markup(  # noqa: S704 - escaped
            "<select"
            + _attrs(
                **bound.common_attrs(),
            )
            + ">"
            + "".join(options)
            + "</select>"
        )


class MultipleChoiceField(ChoiceField):
    """Any number of ``(value, label)`` choices, a checkbox each, in a
    fieldset; :attr:`Form.data` holds the chosen values, in the choices'
    order. ``required`` (default False) asks for at least one. Submitted as
    the field's name repeated (a form) or a list (JSON)."""

    own_label = True

    def __init__(
        self,
        label: str | None = None,
        *,
        choices: Choices,
        required: bool = False,
        **options: Any,
    ) -> None:
        super().__init__(label, choices=choices, required=required, **options)
        #: ``(model, key attribute)`` of a many-to-many relation (model forms).
        self.related: tuple[Any, str] | None = None

    def raw_value(self, data: Any, files: Any) -> Any:
        if data is None:
            return None
        return data.getlist(self.name)

    def clean(self, raw: Any) -> Any:
        values = [v.strip() if isinstance(v, str) else v for v in raw or ()]
        values = [v for v in values if v not in ("", None)]
        if not values:
            if self.required:
                raise ValidationError("Choose at least one.")
            return []
        if any(not isinstance(v, str | int) or isinstance(v, bool) for v in values):
            raise ValidationError("Choose from the options given.")
        wanted = {str(v) for v in values}
        chosen = [value for value, _ in self.choices if str(value) in wanted]
        if len(chosen) != len(wanted):
            raise ValidationError("Choose from the options given.")
        return self.run_validators(chosen)

    def render_input(self, bound: BoundField) -> Markup:
        current = bound.value
        if current is None:
            current = []
        elif not isinstance(current, list | tuple | set):
            current = [current]
        ticked = {str(v) for v in current}
        boxes = []
        for n, (value, text) in enumerate(self.choices):
            box = _attrs(
                type="checkbox",
                id=f"{bound.id}-{n}",
                name=bound.html_name,
                value=str(value),
                checked=str(value) in ticked,
            )
            boxes.append(f'<label class="choice"><input{box}> {escape(text)}</label>')
        attrs = _attrs(
            id=bound.id,
            class_="choices",
            aria_invalid="true" if bound.errors else None,
            aria_describedby=bound.described_by,
        )
        return Markup(  # noqa: S704 - escaped
            f"<fieldset{attrs}><legend>{escape(bound.label)}</legend>"
            + "".join(boxes)
            + "</fieldset>"
        )


class DateField(_RangedField):
    """A date (``YYYY-MM-DD``, the browser's date picker); ``min_value``,
    ``max_value``."""

    input_type = "date"
    below = "Enter a date on or after {}."
    above = "Enter a date on or before {}."

    def convert(self, raw: Any) -> Any:
        if isinstance(raw, datetime.date):
            return raw
        try:
            return datetime.date.fromisoformat(str(raw))
        except ValueError:
            raise ValidationError("Enter a date as YYYY-MM-DD.") from None


#: The first bytes of the file types browsers display, to check what a file says
#: it is against what it holds.
_SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
    "application/pdf": (b"%PDF-",),
}


class FileField(Field):
    """An uploaded file (the form must be sent as ``multipart/form-data``).

    Args:
        max_size: The largest file accepted, in bytes (the app's
            ``MAX_UPLOAD_SIZE`` and ``MAX_FILE_SIZE`` refuse larger bodies with
            413 before any form sees them).
        content_types: The media types accepted (``["image/png",
            "image/jpeg"]``); for images and PDF the file's first bytes must
            match the type it claims.
    """

    input_type = "file"
    keep_input = False

    def __init__(
        self,
        label: str | None = None,
        *,
        max_size: int | None = None,
        content_types: Sequence[str] | None = None,
        **options: Any,
    ) -> None:
        super().__init__(label, **options)
        self.max_size = max_size
        self.content_types = tuple(content_types) if content_types else None

    def raw_value(self, data: Any, files: Any) -> Any:
        found = files.get(self.name) if files is not None else None
        if found is None and data is not None:
            found = data.get(self.name)
        return found

    def clean(self, raw: Any) -> Any:
        from .formparsers import UploadFile

        if not isinstance(raw, UploadFile) or (not raw.filename and raw.size == 0):
            if self.required:
                raise ValidationError("Choose a file.")
            return None
        self.check_file(raw)
        return self.run_validators(raw)

    def check_file(self, upload: UploadFile) -> None:
        if self.max_size is not None and upload.size > self.max_size:
            raise ValidationError(
                f"The file is {upload.size:,} bytes; the largest accepted is "
                f"{self.max_size:,}."
            )
        if self.content_types is not None:
            kind = (upload.content_type or "").split(";", 1)[0].strip().lower()
            if kind not in self.content_types:
                raise ValidationError(
                    f"Choose a file of type {', '.join(self.content_types)}."
                )
            signatures = _SIGNATURES.get(kind)
            if signatures is not None:
                position = upload.file.tell()
                upload.file.seek(0)
                head = upload.file.read(16)
                upload.file.seek(position)
                if not head.startswith(signatures):
                    raise ValidationError(f"The file is not the {kind} it says.")

    def input_attrs(self, bound: BoundField) -> dict[str, Any]:
        return {"accept": ",".join(self.content_types) if self.content_types else None}


# -- the form -------------------------------------------------------------------------


class BoundField:
    """A field of one form: its value, errors and HTML (``{{ form.name }}``)."""

    def __init__(self, form: Form, field: Field) -> None:
        self.form = form
        self.field = field
        self.name = field.name
        self.html_name = form.prefix + field.name
        self.id = f"id_{self.html_name}"
        self.label = field.label or field.name

    @property
    def errors(self) -> list[str]:
        return self.form.errors.get(self.name, [])

    @property
    def value(self) -> Any:
        """What the field shows: the submitted value when the form was
        submitted, else the initial value or the field's default."""
        form = self.form
        if form.is_bound:
            return form.raw.get(self.name)
        return form.initial.get(self.name, self.field.default)

    @property
    def display_value(self) -> Any:
        if not self.field.keep_input:
            return None
        value = self.value
        return None if value is None else value

    def common_attrs(self) -> dict[str, Any]:
        """The attributes every input of the field has."""
        return {
            "id": self.id,
            "name": self.html_name,
            "required": self.field.required,
            "aria_invalid": "true" if self.errors else None,
            "aria_describedby": self.described_by,
        }

    @property
    def described_by(self) -> str | None:
        ids = []
        if self.field.help_text:
            ids.append(f"{self.id}-help")
        if self.errors:
            ids.append(f"{self.id}-error")
        return " ".join(ids) or None

    def label_tag(self) -> Markup:
        return Markup(f'<label for="{escape(self.id)}">{escape(self.label)}</label>')  # noqa: S704

    def input(self) -> Markup:
        return self.field.render_input(self)

    def errors_html(self) -> Markup:
        if not self.errors:
            return Markup("")
        items = "".join(f"<li>{escape(e)}</li>" for e in self.errors)
        return Markup(f'<ul class="errors" id="{escape(self.id)}-error">{items}</ul>')  # noqa: S704

    def help_html(self) -> Markup:
        if not self.field.help_text:
            return Markup("")
        text = escape(self.field.help_text)
        return Markup(f'<p class="help" id="{escape(self.id)}-help">{text}</p>')  # noqa: S704

    def __html__(self) -> str:
        if isinstance(self.field, HiddenField):
            return str(self.input())
        classes = f"field field-{self.name}" + (" has-error" if self.errors else "")
        if isinstance(self.field, BooleanField):
            parts = [self.input(), self.label_tag()]
        elif getattr(self.field, "own_label", False):
            parts = [self.input()]  # a fieldset with its legend
        else:
            parts = [self.label_tag(), self.input()]
        return (
            f'<div class="{escape(classes)}">'
            + "".join(str(p) for p in parts)
            + str(self.help_html())
            + str(self.errors_html())
            + "</div>"
        )

    def __str__(self) -> str:
        return self.__html__()


class _FormMeta(type):
    def __new__(
        mcs, name: str, bases: tuple[type, ...], namespace: dict[str, Any]
    ) -> Any:
        cls = super().__new__(mcs, name, bases, namespace)
        fields: dict[str, Field] = {}
        for base in reversed(cls.__mro__[1:]):
            fields.update(getattr(base, "_fields", {}))
        for key, value in namespace.items():
            if isinstance(value, Field):
                fields[key] = value
        cls._fields = fields  # type: ignore[attr-defined]
        return cls


class Form(metaclass=_FormMeta):
    """A declared form. Bind it to submitted data (a form body, a JSON object),
    check it with :meth:`is_valid`, read :attr:`data`, render it with ``{{ form }}``.

    Args:
        data: The submitted values (``request.form``, a dict from JSON), or None
            for a form not submitted.
        files: Uploaded files (default: those in ``data``).
        initial: Values shown in a form not submitted (editing a record).
        prefix: A prefix for the fields' names, for two forms in one page.
    """

    _fields: ClassVar[dict[str, Field]]

    def __init__(
        self,
        data: Mapping[str, Any] | None = None,
        files: Mapping[str, Any] | None = None,
        *,
        initial: Mapping[str, Any] | None = None,
        prefix: str = "",
    ) -> None:
        self.prefix = f"{prefix}-" if prefix else ""
        self.is_bound = data is not None
        self.initial = dict(initial or {})
        self._input = data
        self._files = files
        self.raw: dict[str, Any] = {}
        if data is not None:
            for name, field in self._fields.items():
                self.raw[name] = field.raw_value(
                    _Prefixed(data, self.prefix),
                    _Prefixed(files, self.prefix) if files is not None else None,
                )
        #: The checked values (after :meth:`is_valid`).
        self.data: dict[str, Any] = {}
        #: ``{field name: [messages]}``; ``""`` holds errors of the whole form.
        self.errors: dict[str, list[str]] = {}
        self._checked = False

    # -- from a request

    @classmethod
    async def from_request(cls, request: Request, **options: Any) -> Any:
        """The form bound to the request's body (a form, or a JSON object), or
        not bound for a GET or HEAD."""
        kind = _body_kind(request)
        if kind is None:
            return cls(**options)
        if kind == "json":
            return cls(_json_object(await request.json()), **options)
        return cls(await request.form(), **options)

    @classmethod
    def from_request_sync(cls, request: Request, **options: Any) -> Any:
        """:meth:`from_request` from sync code."""
        kind = _body_kind(request)
        if kind is None:
            return cls(**options)
        if kind == "json":
            return cls(_json_object(request.get_json()), **options)
        return cls(request.get_form(), **options)

    # -- checking

    def is_valid(self) -> bool:
        """Check the submitted values (once); False for a form not submitted."""
        if not self.is_bound:
            return False
        if not self._checked:
            self._checked = True
            self._check()
        return not self.errors

    def _check(self) -> None:
        for name, field in self._fields.items():
            try:
                value = field.clean(self.raw.get(name))
                hook = getattr(self, f"validate_{name}", None)
                if hook is not None:
                    result = hook(value)
                    if result is not None:
                        value = result
                self.data[name] = value
            except ValidationError as exc:
                self.add_error(name, exc.message)
        try:
            self.validate()
        except ValidationError as exc:
            self.add_error(None, exc.message)

    def validate(self) -> None:
        """Checks across fields, run after each field's own: read
        :attr:`data` (fields with errors are missing from it), call
        :meth:`add_error` or raise :class:`ValidationError` for the form."""

    def add_error(self, field: str | None, message: str) -> None:
        """Record an error of ``field`` (None: of the whole form)."""
        key = field or ""
        if field is not None and field not in self._fields:
            raise KeyError(f"the form has no field {field!r}")
        self.errors.setdefault(key, []).append(message)
        if field is not None:
            self.data.pop(field, None)

    @property
    def non_field_errors(self) -> list[str]:
        return self.errors.get("", [])

    @property
    def is_multipart(self) -> bool:
        """Whether the form has a file field (``enctype="multipart/form-data"``)."""
        return any(isinstance(f, FileField) for f in self._fields.values())

    # -- rendering

    def __getitem__(self, name: str) -> BoundField:
        return BoundField(self, self._fields[name])

    def __iter__(self) -> Iterator[BoundField]:
        return (BoundField(self, f) for f in self._fields.values())

    def csrf_input(self) -> Markup:
        """The CSRF field (see :mod:`kettle.csrf`); empty outside a request."""
        from .context import has_request_context
        from .csrf import csrf_input

        return csrf_input() if has_request_context() else Markup("")

    def __html__(self) -> str:
        parts = [str(self.csrf_input())]
        if self.non_field_errors:
            items = "".join(f"<li>{escape(e)}</li>" for e in self.non_field_errors)
            parts.append(f'<ul class="errors form-errors" role="alert">{items}</ul>')
        parts.extend(b.__html__() for b in self)
        return "".join(parts)

    def __str__(self) -> str:
        return self.__html__()


def _body_kind(request: Request) -> str | None:
    """None for a request that submits nothing (GET, HEAD), ``"json"`` for a
    JSON body, ``"form"`` otherwise."""
    if request.method in ("GET", "HEAD"):
        return None
    ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return "json" if ctype == "application/json" or ctype.endswith("+json") else "form"


def _json_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        from .exceptions import HTTPException

        raise HTTPException(422, detail="the JSON body must be an object")
    return body


class _Prefixed:
    """``data.get(prefix + name)``, and ``getlist``."""

    __slots__ = ("data", "prefix")

    def __init__(self, data: Any, prefix: str) -> None:
        self.data = data
        self.prefix = prefix

    def get(self, name: str) -> Any:
        return self.data.get(self.prefix + name) if self.data is not None else None

    def getlist(self, name: str) -> list[Any]:
        """Every value of ``name`` (a JSON list, or a form's repeated field)."""
        if self.data is None:
            return []
        getlist = getattr(self.data, "getlist", None)
        if getlist is not None:
            return list(getlist(self.prefix + name))
        value = self.data.get(self.prefix + name)
        if value is None:
            return []
        return list(value) if isinstance(value, list) else [value]


async def form_provider_async(request: Any, cls: type[Form]) -> Form:
    return await cls.from_request(request)  # type: ignore[no-any-return]


def form_provider(app: Any, annotation: type[Form]) -> Callable[..., Any]:
    """The provider behind a parameter annotated with a :class:`Form` subclass
    (found by :class:`kettle.handlers.Injectables`)."""

    async def provide(request: Request) -> Form:
        return await form_provider_async(request, annotation)

    return provide


# -- model forms ------------------------------------------------------------------


class DateTimeField(_RangedField):
    """A date and time (``YYYY-MM-DDTHH:MM``, the browser's picker)."""

    input_type = "datetime-local"
    below = "Enter a time on or after {}."
    above = "Enter a time on or before {}."

    def convert(self, raw: Any) -> Any:
        if isinstance(raw, datetime.datetime):
            return raw
        try:
            return datetime.datetime.fromisoformat(str(raw))
        except ValueError:
            raise ValidationError(
                "Enter a date and time as YYYY-MM-DDTHH:MM."
            ) from None


def _related_choices(model: Any, column: Any) -> Callable[[], list[tuple[Any, str]]]:
    """The rows of the table ``column`` refers to, as ``(key, label)`` choices
    (read when the form is checked or rendered)."""

    def choices() -> list[tuple[Any, str]]:
        from sqlalchemy import select

        from .db import get_database

        with get_database().session() as db:
            rows = db.scalars(select(model).order_by(column)).all()
            return [(getattr(row, column.key), _label_of(row)) for row in rows]

    return choices


def _label_of(row: Any) -> str:
    """A row's label in a choice: its ``__str__`` when the model defines one,
    else its first text column, else its key."""
    own: Any = type(row).__str__
    if own is not object.__str__:
        return str(row)
    from sqlalchemy import String
    from sqlalchemy import inspect as sa_inspect

    mapper = sa_inspect(type(row))
    for column in mapper.columns:
        if isinstance(column.type, String) and not column.primary_key:
            return str(getattr(row, column.key))
    return str(sa_inspect(row).identity)


def _column_options(column: Any) -> dict[str, Any]:
    """A column's field options: label, required, default."""
    optional = (
        column.nullable
        or column.default is not None
        or column.server_default is not None
    )
    label = column.key.replace("_", " ").capitalize()
    options: dict[str, Any] = {"label": label, "required": not optional}
    default = column.default
    if default is not None and getattr(default, "is_scalar", False):
        options["default"] = default.arg  # shown in a new form, used when left empty
    return options


def _field_for(model: Any, column: Any, relations: dict[Any, Any]) -> Field:
    """The form field of a mapped column: its type, length, nullability,
    default; a foreign key: the related table's rows as choices."""
    from sqlalchemy import types as sa

    kind = column.type
    options = _column_options(column)
    label = options["label"]
    related = relations.get(column)
    if related is not None:
        name, target_model, target_column = related
        options["label"] = name.replace("_", " ").capitalize()
        return ChoiceField(
            choices=_related_choices(target_model, target_column), **options
        )
    enum_class = getattr(kind, "enum_class", None)
    if isinstance(kind, sa.Enum):
        if enum_class is not None and issubclass(enum_class, enum.Enum):
            choices = [(member.name, str(member.value)) for member in enum_class]
            # the member itself in form.data
            options["validators"] = [enum_class.__getitem__]
        else:
            choices = [(value, value) for value in kind.enums]
        return ChoiceField(choices=choices, **options)
    if isinstance(kind, sa.Boolean):
        return BooleanField(label=label, default=options.get("default"))
    if isinstance(kind, sa.Integer):
        from .db.queries import integer_bounds

        low, high = integer_bounds(kind)
        return IntegerField(min_value=low, max_value=high, **options)
    if isinstance(kind, sa.Numeric) and not isinstance(kind, sa.Float):
        if kind.precision is not None:
            scale = kind.scale or 0
            top = decimal.Decimal(10) ** (kind.precision - scale)
            step = decimal.Decimal(1).scaleb(-scale)
            options.update(min_value=-(top - step), max_value=top - step)
        return DecimalField(places=kind.scale, **options)
    if isinstance(kind, sa.Float):
        return FloatField(**options)
    if isinstance(kind, sa.DateTime):
        return DateTimeField(**options)
    if isinstance(kind, sa.Date):
        return DateField(**options)
    if isinstance(kind, sa.Text):
        return TextField(**options)
    if isinstance(kind, sa.String):
        return StringField(max_length=kind.length, **options)
    raise TypeError(
        f"{model.__name__}.{column.key}: no form field for {type(kind).__name__} "
        "columns; declare the field on the form yourself"
    )


def model_form(
    model: Any,
    *,
    fields: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
    base: type[Form] | None = None,
) -> type[Form]:
    """A :class:`Form` class made from a ``kettle.db`` model's columns: each
    column's type, length, nullability (``required``) and default; a foreign key
    as a choice of the related table's rows (labelled by their ``__str__``).

    Args:
        model: The mapped class.
        fields: The columns to include, in order (default: every column but
            primary keys and those the database fills, such as timestamps).
            A relationship's name stands for its foreign key column.
        exclude: Columns to leave out.
        base: A form class to extend (fields declared there win).
    """
    from sqlalchemy import inspect as sa_inspect

    mapper = sa_inspect(model)
    relations: dict[Any, Any] = {}
    by_relation: dict[str, str] = {}
    many = {r.key: r for r in mapper.relationships if r.direction.name == "MANYTOMANY"}
    for rel in mapper.relationships:
        if rel.direction.name != "MANYTOONE":
            continue
        for local, remote in rel.local_remote_pairs:
            relations[local] = (rel.key, rel.mapper.class_, remote)
            by_relation[rel.key] = mapper.get_property_by_column(local).key
    columns = {prop.key: prop.columns[0] for prop in mapper.column_attrs}
    if fields is None:
        names = [
            key
            for key, column in columns.items()
            if not column.primary_key
            and column.server_default is None
            and not callable(getattr(column.default, "arg", None))
        ]
    else:
        names = [by_relation.get(name, name) for name in fields]
    declared: dict[str, Any] = {}
    for name in names:
        if name in exclude:
            continue
        if name not in columns and name not in many:
            raise KeyError(f"{model.__name__} has no column {name!r}")
        if base is not None and name in base._fields:
            continue
        if name in many:
            declared[name] = _many_field(many[name])
            continue
        declared[name] = _field_for(model, columns[name], relations)
    form_class = type(f"{model.__name__}Form", (base or Form,), declared)
    form_class.model = model  # type: ignore[attr-defined]
    return form_class


def _many_field(rel: Any) -> MultipleChoiceField:
    """A many-to-many relation's field: the related rows, a checkbox each."""
    from sqlalchemy import inspect as sa_inspect

    target = rel.mapper.class_
    key = sa_inspect(target).primary_key[0]
    field = MultipleChoiceField(
        rel.key.replace("_", " ").capitalize(),
        choices=_related_choices(target, key),
    )
    field.related = (target, rel.mapper.get_property_by_column(key).key)
    return field


def populate(
    form: Form, obj: Any, db: Any = None, *, exclude: Sequence[str] = ()
) -> Any:
    """Set ``obj``'s attributes from a valid form's :attr:`~Form.data` (only
    the fields the form has, but those in ``exclude``) and return it. A
    many-to-many relation's rows are read in ``db`` (default: the session
    ``obj`` is in)."""
    if not form.is_valid():
        raise ValueError("the form is not valid: check form.is_valid() first")
    for name, value in form.data.items():
        if name in exclude:
            continue
        field = form._fields.get(name)
        related = getattr(field, "related", None)
        if related is not None:
            value = _related_rows(obj, db, related, value)
        setattr(obj, name, value)
    return obj


def _related_rows(obj: Any, db: Any, related: tuple[Any, str], keys: Any) -> list[Any]:
    from sqlalchemy import select
    from sqlalchemy.orm import object_session

    session = db if db is not None else object_session(obj)
    if session is None:
        raise ValueError(
            "populate(): pass db= (a Session) to set a many-to-many relation "
            "of an object in no session"
        )
    if not keys:
        return []
    model, key = related
    column = getattr(model, key)
    rows = session.scalars(select(model).where(column.in_(keys))).all()
    order = {k: n for n, k in enumerate(keys)}
    return sorted(rows, key=lambda row: order.get(getattr(row, key), 0))


def initial_from(obj: Any, form_class: type[Form]) -> dict[str, Any]:
    """A record's values for the fields of ``form_class`` (to edit it); a
    many-to-many relation's are the related rows' keys."""
    out: dict[str, Any] = {}
    for name, field in form_class._fields.items():
        value = getattr(obj, name, None)
        related = getattr(field, "related", None)
        if related is not None and value is not None:
            value = [getattr(row, related[1]) for row in value]
        out[name] = value
    return out
