"""Password validators: the rules a new password must follow.

A validator is any object with ``validate(password, user=None)``, which raises
:class:`PasswordInvalid` when the password breaks its rule, and ``help_text()``,
a sentence telling the user the rule. :func:`validate_password` runs a list of
them and raises one :class:`PasswordInvalid` carrying every message.

The list is described by the setting ``AUTH_PASSWORD_VALIDATORS`` in the form
:func:`load_validators` reads: instances, dotted paths of classes, or dicts
naming a class and its options::

    AUTH_PASSWORD_VALIDATORS = [
        {"name": "kettle.auth.validators.MinimumLength", "options": {"min_length": 12}},
        "kettle.auth.validators.CommonPassword",
        "NumericPassword",  # a bare name is one of this module's
    ]
"""

from __future__ import annotations

import functools
import gzip
import importlib
import re
from collections.abc import Iterable
from collections.abc import Mapping
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any
from typing import Protocol
from typing import TypeAlias
from typing import runtime_checkable

from ..exceptions import ImproperlyConfigured

__all__ = (
    "DEFAULT_VALIDATORS",
    "CommonPassword",
    "MaximumLength",
    "MinimumLength",
    "NumericPassword",
    "PasswordInvalid",
    "PasswordValidator",
    "UserAttributeSimilarity",
    "ValidatorSpec",
    "load_validators",
    "password_help_texts",
    "validate_password",
)

#: The validators :func:`validate_password` runs when given none.
DEFAULT_VALIDATORS: tuple[str, ...] = (
    "kettle.auth.validators.UserAttributeSimilarity",
    "kettle.auth.validators.MinimumLength",
    "kettle.auth.validators.CommonPassword",
    "kettle.auth.validators.NumericPassword",
    "kettle.auth.validators.MaximumLength",
)

_COMMON_PASSWORDS = Path(__file__).with_name("common-passwords.txt.gz")
# How the messages name an attribute, when not its name with spaces for "_".
_ATTRIBUTE_NAMES = {"email": "email address"}


class PasswordInvalid(ValueError):
    """A password refused by one or more validators.

    Args:
        messages: What is wrong, one sentence per broken rule.

    Attributes:
        messages: The sentences, in the order the validators ran.
    """

    def __init__(self, messages: str | Iterable[str]) -> None:
        self.messages = [messages] if isinstance(messages, str) else list(messages)
        super().__init__(" ".join(self.messages))


@runtime_checkable
class PasswordValidator(Protocol):
    """What :func:`validate_password` needs of a validator."""

    def validate(self, password: str, user: object | None = None) -> None:
        """Raise :class:`PasswordInvalid` if ``password`` breaks the rule."""

    def help_text(self) -> str:
        """The rule, as a sentence for the user."""


def _characters(count: int) -> str:
    return f"{count} character" if count == 1 else f"{count} characters"


class MinimumLength:
    """Refuse passwords shorter than ``min_length`` characters.

    Args:
        min_length: The fewest characters a password may have.
    """

    def __init__(self, min_length: int = 8) -> None:
        self.min_length = min_length

    def validate(self, password: str, user: object | None = None) -> None:
        """Raise :class:`PasswordInvalid` if ``password`` is too short."""
        if len(password) < self.min_length:
            raise PasswordInvalid(
                "This password is too short: it must contain at least "
                f"{_characters(self.min_length)}."
            )

    def help_text(self) -> str:
        """The rule, as a sentence for the user."""
        return f"Your password must contain at least {_characters(self.min_length)}."


class MaximumLength:
    """Refuse passwords longer than ``max_length`` characters (by default the
    most :func:`~kettle.auth.hashers.hash_password` accepts).

    Args:
        max_length: The most characters a password may have.
    """

    def __init__(self, max_length: int = 4096) -> None:
        self.max_length = max_length

    def validate(self, password: str, user: object | None = None) -> None:
        """Raise :class:`PasswordInvalid` if ``password`` is too long."""
        if len(password) > self.max_length:
            raise PasswordInvalid(
                "This password is too long: it must contain at most "
                f"{_characters(self.max_length)}."
            )

    def help_text(self) -> str:
        """The rule, as a sentence for the user."""
        return f"Your password must contain at most {_characters(self.max_length)}."


class CommonPassword:
    """Refuse passwords found in a list of common ones, ignoring case and the
    whitespace around them.

    The list shipped with Kettle holds a few thousand weak passwords: words
    such as ``password`` and ``dragon``, keyboard walks, digit runs, names and
    football clubs followed by years and digits. The file is read the first time
    a password is checked, and kept.

    Args:
        path: Another list: a text file, or a gzipped one (``.gz``), with one
            password a line.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else _COMMON_PASSWORDS

    @property
    def passwords(self) -> frozenset[str]:
        """The common passwords, lowercased."""
        return _load_passwords(self.path.resolve())

    def validate(self, password: str, user: object | None = None) -> None:
        """Raise :class:`PasswordInvalid` if ``password`` is a common one."""
        if password.strip().lower() in self.passwords:
            raise PasswordInvalid("This password is too common.")

    def help_text(self) -> str:
        """The rule, as a sentence for the user."""
        return "Your password must not be a commonly used password."


@functools.cache
def _load_passwords(path: Path) -> frozenset[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip().lower() for line in lines if line.strip())


class UserAttributeSimilarity:
    """Refuse passwords too much like the user's name, email address and other
    attributes.

    Each attribute (read with ``getattr``, or as a key of a mapping) is compared
    whole, and in parts split on anything but letters and digits (so an
    email's local part, and ``ann`` and ``lee`` of ``ann.lee``). A part is too
    similar when :class:`difflib.SequenceMatcher` finds the password and it at
    least ``max_similarity`` alike, ignoring case.

    Args:
        attributes: The user's attributes to compare with.
        max_similarity: The similarity ratio, from 0.1 (refuse almost anything
            sharing letters) to 1.0 (refuse only an exact copy), at which a
            password is refused.

    Raises:
        ValueError: ``max_similarity`` is below 0.1.
    """

    def __init__(
        self,
        attributes: Iterable[str] = ("username", "email", "first_name", "last_name"),
        max_similarity: float = 0.7,
    ) -> None:
        if max_similarity < 0.1:
            raise ValueError(
                f"max_similarity must be at least 0.1, not {max_similarity}"
            )
        self.attributes = tuple(attributes)
        self.max_similarity = max_similarity

    def validate(self, password: str, user: object | None = None) -> None:
        """Raise :class:`PasswordInvalid` if ``password`` is too like one of
        ``user``'s attributes; without a user there is nothing to compare."""
        if user is None:
            return
        lowered = password.lower()
        for attribute in self.attributes:
            value = _attribute(user, attribute)
            if value and any(self._similar(lowered, part) for part in _parts(value)):
                name = _ATTRIBUTE_NAMES.get(attribute, attribute.replace("_", " "))
                raise PasswordInvalid(f"This password is too similar to your {name}.")

    def _similar(self, password: str, part: str) -> bool:
        # PERF: the ratio is at most 2*min/(len_a + len_b); skip the matching
        # when even that is below the limit.
        longest = 2 * min(len(password), len(part)) / (len(password) + len(part))
        if longest < self.max_similarity:
            return False
        matcher = SequenceMatcher(a=password, b=part, autojunk=False)
        return (
            matcher.quick_ratio() >= self.max_similarity
            and matcher.ratio() >= self.max_similarity
        )

    def help_text(self) -> str:
        """The rule, as a sentence for the user."""
        return (
            "Your password must not be too similar to your other personal information."
        )


def _attribute(user: object, name: str) -> str | None:
    value = user.get(name) if isinstance(user, Mapping) else getattr(user, name, None)
    return value if isinstance(value, str) else None


def _parts(value: str) -> set[str]:
    lowered = value.strip().lower()
    parts = {lowered, lowered.partition("@")[0]}
    parts.update(re.split(r"[\W_]+", lowered))
    parts.discard("")
    return parts


class NumericPassword:
    """Refuse passwords made of digits only."""

    def validate(self, password: str, user: object | None = None) -> None:
        """Raise :class:`PasswordInvalid` if ``password`` is all digits."""
        if password.isdigit():
            raise PasswordInvalid("This password is entirely numeric.")

    def help_text(self) -> str:
        """The rule, as a sentence for the user."""
        return "Your password must not be entirely numeric."


# -- running them ---------------------------------------------------------------------

#: One item of a validator list: an instance, a dotted path or a dict.
ValidatorSpec: TypeAlias = PasswordValidator | str | Mapping[str, Any]


def load_validators(spec: Iterable[ValidatorSpec]) -> list[PasswordValidator]:
    """Build validators from their description (the form of the setting
    ``AUTH_PASSWORD_VALIDATORS``).

    Each item is one of:

    - a validator instance, used as it is;
    - the dotted path of a class, made with no arguments
      (``"kettle.auth.validators.NumericPassword"``; a name without a dot is
      one of this module's: ``"NumericPassword"``);
    - a dict ``{"name": <dotted path>, "options": {<keyword arguments>}}``.

    Args:
        spec: The items.

    Returns:
        The validators, in order.

    Raises:
        ImproperlyConfigured: An item cannot be imported, made, or is no
            validator.
    """
    if isinstance(spec, str | Mapping):
        raise ImproperlyConfigured(
            f"password validators are given as a list, not {spec!r}"
        )
    return [_load_validator(item) for item in spec]


def _load_validator(item: ValidatorSpec) -> PasswordValidator:
    name: object
    options: object
    if isinstance(item, str):
        name, options = item, {}
    elif isinstance(item, Mapping):
        name, options = item.get("name"), item.get("options", {})
        unknown = set(item) - {"name", "options"}
        if unknown or not isinstance(name, str) or not isinstance(options, Mapping):
            raise ImproperlyConfigured(
                "a password validator given as a dict has the keys 'name' (a dotted "
                f"path) and 'options' (a dict of keyword arguments), not {item!r}"
            )
    elif isinstance(item, PasswordValidator):
        return item
    else:
        raise ImproperlyConfigured(
            f"{item!r} is no password validator: give an instance, a dotted path "
            "or a dict with 'name' and 'options'"
        )
    factory = _import(name)
    try:
        validator = factory(**options)
    except TypeError as exc:
        raise ImproperlyConfigured(
            f"password validator {name!r} cannot be made with {dict(options)!r}: {exc}"
        ) from exc
    if not isinstance(validator, PasswordValidator):
        raise ImproperlyConfigured(
            f"{name!r} made {validator!r}, which has no validate() and help_text()"
        )
    return validator


def _import(name: str) -> Any:
    module_name, _, attribute = name.rpartition(".")
    try:
        module = importlib.import_module(module_name or __name__)
        return getattr(module, attribute)
    except (ImportError, AttributeError) as exc:
        raise ImproperlyConfigured(
            f"password validator {name!r} cannot be imported: {exc}"
        ) from exc


@functools.cache
def _default_validators() -> tuple[PasswordValidator, ...]:
    return tuple(load_validators(DEFAULT_VALIDATORS))


def _resolve(validators: Iterable[ValidatorSpec] | None) -> list[PasswordValidator]:
    if validators is None:
        # As Django's: the current app's AUTH_PASSWORD_VALIDATORS, when there is
        # an app and it sets them.
        from ..context import _current_app

        try:
            validators = _current_app().config.get("AUTH_PASSWORD_VALIDATORS")
        except LookupError:  # outside an app
            validators = None
    if validators is None:
        return list(_default_validators())
    return load_validators(validators)


def validate_password(
    password: str,
    user: object | None = None,
    validators: Iterable[ValidatorSpec] | None = None,
) -> None:
    """Check a new password against every validator.

    Args:
        password: The new password.
        user: The user who chose it (an object or a mapping), for the validators
            that compare with the user's attributes; None before it exists.
        validators: Validators, or their description as :func:`load_validators`
            reads it; None for the current app's ``AUTH_PASSWORD_VALIDATORS``
            (:data:`DEFAULT_VALIDATORS` outside an app, or when it is not set).

    Raises:
        PasswordInvalid: One validator or more refused the password; its
            ``messages`` holds every one of their sentences.
        ImproperlyConfigured: ``validators`` describes no validators.
    """
    messages: list[str] = []
    for validator in _resolve(validators):
        try:
            validator.validate(password, user)
        except PasswordInvalid as exc:
            messages.extend(exc.messages)
    if messages:
        raise PasswordInvalid(messages)


def password_help_texts(
    validators: Iterable[ValidatorSpec] | None = None,
) -> list[str]:
    """The rules the validators enforce, one sentence each, to show by a
    password field.

    Args:
        validators: As for :func:`validate_password`.
    """
    return [validator.help_text() for validator in _resolve(validators)]
