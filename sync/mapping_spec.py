"""Mapping files (SPEC §3): parsed once into a frozen :class:`MappingSpec`, every problem
reported together as ``<file>: <dotted.key>: <what is wrong>``.

Decisions where SPEC §3 is silent:

* ``[fields]`` must map firstname, lastname, email and loginname (Chamilo needs them to create
  a user and WSEditUsers always writes login and email); ``required = false`` is allowed.
* ``default`` is allowed on any field: it replaces an empty value (after transforms); with
  ``map`` it also replaces values missing from the map. It is a final value (not looked up in
  the map) but still goes through date ``format`` parsing and validation.
* ``map`` keys match exactly (case-sensitive) after transforms; add ``lower`` to be lenient.
* ``join``/``index`` choose among LDAP values; in a template they apply to every attribute
  read; with CSV they do nothing.
* ``status`` map values, ``default`` and ``value`` must be integers (1 = teacher, 5 = student).
* Extra field names: letters, digits and ``_`` (Chamilo extra-field variables).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sync.errors import ConfigError
from sync.model import LOCATOR

#: The CSV adapter's per-row error column (non-empty: the row is rejected with that reason).
from sync.model import ROW_ERROR  # noqa: F401  (re-exported for the mapping layer)

SECTIONS = ("key", "fields", "active", "extra")
OPTIONS = ("column", "template", "value", "transform", "map", "default", "format", "required",
           "join", "index")  # fmt: skip
SOURCES = ("column", "template", "value")
PASSWORD_OPTIONS = ("generate", "column")
ACTIVE_OPTIONS = ("column", "values", "disabled_flag")
DATE_FIELDS = frozenset({"expiration_date"})
_ALIASES = {
    "username": "loginname", "login": "loginname", "first_name": "firstname",
    "given_name": "firstname", "givenname": "firstname", "last_name": "lastname",
    "surname": "lastname", "sn": "lastname", "mail": "email", "role": "status",
    "lang": "language", "telephone": "phone", "expiration": "expiration_date",
    "expires": "expiration_date",
}  # fmt: skip


@dataclass(frozen=True)
class FieldSpec:
    """How one value is made. ``where`` is its dotted key (``fields.email``), used in messages.
    Exactly one of ``column``/``template``/``value`` is set; ``template_columns`` are the
    columns a template reads; ``map`` values and ``default`` are strings."""

    where: str
    column: str | None = None
    template: str | None = None
    value: str | None = None
    transform: tuple[str, ...] = ()
    map: Mapping[str, str] | None = None
    default: str | None = None
    format: str | None = None
    required: bool = False
    join: str | None = None
    index: int | None = None
    template_columns: tuple[str, ...] = ()

    def columns(self) -> tuple[str, ...]:
        return (self.column,) if self.column is not None else self.template_columns

    def describe(self) -> str:
        if self.column is not None:
            return f"column {self.column!r}"
        if self.template is not None:
            return f"template {self.template!r}"
        return f"value {self.value!r}"


@dataclass(frozen=True)
class ActiveSpec:
    """``[active]``: a row is active when ``column`` (stripped) equals one of ``values``
    case-insensitively, or, with ``disabled_flag``, when ``int(value) & disabled_flag == 0``
    (AD ``userAccountControl``: ``disabled_flag = 2``)."""

    column: str
    values: tuple[str, ...] | None = None
    disabled_flag: int | None = None


@dataclass(frozen=True)
class PasswordSpec:
    """``password = { generate = true }`` or ``{ column = "..." }`` (create only)."""

    generate: bool = False
    column: str | None = None


@dataclass(frozen=True)
class MappingSpec:
    """A checked mapping file. ``path`` as given (used in messages); ``fields`` in
    :data:`sync.model.FIELDS` order, without ``password``; ``extras`` by extra-field name."""

    path: Path
    key: FieldSpec
    fields: Mapping[str, FieldSpec]
    extras: Mapping[str, FieldSpec]
    active: ActiveSpec | None = None
    password: PasswordSpec | None = None

    def references(self) -> list[tuple[str, str]]:
        """(dotted key, column) for every column read: key, fields, extras, password, active."""
        refs = [(self.key.where, c) for c in self.key.columns()]
        for spec in (*self.fields.values(), *self.extras.values()):
            refs += [(spec.where, c) for c in spec.columns()]
        if self.password is not None and self.password.column is not None:
            refs.append(("fields.password", self.password.column))
        if self.active is not None:
            refs.append(("active", self.active.column))
        return refs

    def columns(self) -> frozenset[str]:
        """Every source column the spec reads (CSV header check, LDAP attribute list)."""
        return frozenset(c for _, c in self.references())


def check_columns(spec: MappingSpec, columns: Sequence[str], origin: str) -> None:
    """Raise ``ConfigError`` naming every column the spec reads that ``columns`` lacks (the
    tool's own meta columns never count as the file's)."""
    have = [c for c in columns if c not in (LOCATOR, ROW_ERROR)]
    shown = ", ".join(str(c) for c in have)
    have = set(have)
    problems = [
        f"{spec.path}: {where}: column {col!r} is not in {origin} (columns: {shown})"
        for where, col in spec.references()
        if col not in have
    ]
    if problems:
        raise ConfigError(problems)
