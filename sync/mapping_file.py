"""Reading a mapping file into a :class:`sync.mapping_spec.MappingSpec`: the TOML parser that
collects every problem with its dotted key."""

from __future__ import annotations

import difflib
import re
import string
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType

from sync.errors import ConfigError
from sync.mapping_spec import (
    _ALIASES,
    ACTIVE_OPTIONS,
    DATE_FIELDS,
    OPTIONS,
    PASSWORD_OPTIONS,
    SECTIONS,
    SOURCES,
    ActiveSpec,
    FieldSpec,
    MappingSpec,
    PasswordSpec,
)
from sync.model import FIELDS, REQUIRED_BY_DEFAULT
from sync.transforms import TRANSFORMS, format_problem


def _suggest(name: str, valid: Sequence[str], aliases: Mapping[str, str] | None = None) -> str:
    guess = (aliases or {}).get(name.lower()) or next(
        iter(difflib.get_close_matches(name, valid, n=1, cutoff=0.6)), None
    )
    hint = f"did you mean {guess!r}? " if guess else ""
    return f"{hint}valid: {', '.join(valid)}"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _scalar(value: object) -> str | None:
    """A TOML string or integer as ``str``; ``None`` for anything else."""
    return value if isinstance(value, str) else str(value) if _is_int(value) else None


#: Options checked by type alone: option -> (check, what it must be).
_SIMPLE = {
    "column": (lambda v: isinstance(v, str) and v != "", "must be a non-empty string"),
    "value": (lambda v: _scalar(v) is not None, "must be a string or an integer"),
    "default": (lambda v: _scalar(v) is not None, "must be a string or an integer"),
    "format": (lambda v: isinstance(v, str), "must be a strftime pattern such as '%d/%m/%Y'"),
    "required": (lambda v: isinstance(v, bool), "must be true or false"),
    "join": (lambda v: isinstance(v, str), 'must be a string such as "; "'),
    "index": (lambda v: _is_int(v) and v >= 0, "must be an integer >= 0"),
}


class _Parser:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.problems: list[str] = []

    def bad(self, where: str, what: str) -> None:
        self.problems.append(f"{self.path}: {where}: {what}")

    def table(self, where: str, raw: object, example: str) -> dict | None:
        if isinstance(raw, dict):
            return raw
        self.bad(where, f"must be a table, e.g. {example}")
        return None

    def unknown(self, where: str, raw: dict, valid: Sequence[str]) -> None:
        for name in raw:
            if name not in valid:
                self.bad(where, f"unknown option {name!r}; {_suggest(name, valid)}")

    def field(self, where: str, raw: object, *, name: str) -> FieldSpec | None:
        """``name``: ``key``, a Chamilo field name, or ``extra``."""
        raw = self.table(where, raw, '{ column = "..." }')
        if raw is None:
            return None
        before = len(self.problems)
        self.unknown(where, raw, OPTIONS)
        given = [s for s in SOURCES if s in raw]
        if name == "key" and "value" in raw:
            self.bad(where, "a constant key makes no sense; use column or template")
        elif len(given) != 1:
            found = f" (found: {', '.join(given)})" if given else ""
            self.bad(where, f"needs exactly one of column, template, value{found}")
        out: dict = {"where": where, "required": name in REQUIRED_BY_DEFAULT or name == "key"}
        for option, (ok, expected) in _SIMPLE.items():
            if option in raw and ok(raw[option]):
                scalar = option in ("value", "default")
                out[option] = _scalar(raw[option]) if scalar else raw[option]
            elif option in raw:
                self.bad(f"{where}.{option}", expected)
        if name == "key" and "default" in raw:
            self.bad(f"{where}.default", "a default key makes no sense")
        if name == "key" and raw.get("required") is False:
            self.bad(f"{where}.required", "the key is always required")
        if "format" in raw and name not in DATE_FIELDS and name != "extra":
            self.bad(f"{where}.format", "format is only for expiration_date and extra fields")
        elif "format" in out and (problem := format_problem(out["format"])):
            self.bad(f"{where}.format", problem)
        if "join" in raw and "index" in raw:
            self.bad(where, "join and index are mutually exclusive")
        if ("join" in raw or "index" in raw) and "value" in raw:
            self.bad(where, "join and index only apply to column or template")
        if "template" in raw:
            out.update(self.template(f"{where}.template", raw["template"]))
        if "transform" in raw:
            out["transform"] = self.transforms(f"{where}.transform", raw["transform"])
        if "map" in raw:
            out["map"] = self.map(f"{where}.map", raw["map"])
        if name == "status":
            self.status(where, out)
        return None if len(self.problems) > before else FieldSpec(**out)

    def template(self, where: str, template: object) -> dict:
        if not isinstance(template, str):
            self.bad(where, "must be a string such as '{first_name[0]}{last_name}'")
            return {}
        try:
            parsed = list(string.Formatter().parse(template))
        except ValueError as exc:
            self.bad(where, f"invalid template {template!r}: {exc}")
            return {}
        names: list[str] = []
        before = len(self.problems)
        for _, field, spec, _ in parsed:
            if field is None:
                continue
            root = re.split(r"[.\[]", field, maxsplit=1)[0]
            if not root or root.isdigit():
                self.bad(where, f"{{{field}}} must name a column, e.g. {{last_name}}")
            elif "." in field.split("[", 1)[0] or "{" in (spec or ""):
                self.bad(where, f"{{{field}}}: only column names and [N] indexes are supported")
            elif root not in names:
                names.append(root)
        if len(self.problems) > before:
            return {}
        if not names:
            self.bad(where, f"template {template!r} names no column; use value for a constant")
            return {}
        try:
            template.format_map({n: "x" * 40 for n in names})
        except (IndexError, KeyError):
            pass  # depends on the row (e.g. an empty column): rejected per row
        except (ValueError, TypeError, AttributeError) as exc:
            self.bad(where, f"invalid template {template!r}: {exc}")
        return {"template": template, "template_columns": tuple(names)}

    def transforms(self, where: str, raw: object) -> tuple[str, ...]:
        if not isinstance(raw, list) or not all(isinstance(t, str) for t in raw):
            self.bad(where, 'must be a list of names, e.g. ["strip", "lower"]')
            return ()
        for name in raw:
            if name not in TRANSFORMS:
                self.bad(where, f"unknown transform {name!r}; {_suggest(name, list(TRANSFORMS))}")
        return tuple(raw)

    def map(self, where: str, raw: object) -> Mapping[str, str] | None:
        if not isinstance(raw, dict) or not raw:
            self.bad(where, "must be a non-empty table, e.g. { student = 5, teacher = 1 }")
            return None
        out = {}
        for source, target in raw.items():
            out[source] = _scalar(target)
            if out[source] is None:
                self.bad(f"{where}.{source}", "must be a string or an integer")
        return MappingProxyType(out)

    def status(self, where: str, out: dict) -> None:
        hint = "must be an integer (1 = teacher, 5 = student)"
        for source, target in (out.get("map") or {}).items():
            if target is not None and not target.strip().isdigit():
                self.bad(f"{where}.map.{source}", f"{target!r} {hint}")
        for option in ("default", "value"):
            if out.get(option) is not None and not out[option].strip().isdigit():
                self.bad(f"{where}.{option}", f"{out[option]!r} {hint}")

    def password(self, where: str, raw: object) -> PasswordSpec | None:
        raw = self.table(where, raw, '{ generate = true } or { column = "initial_password" }')
        if raw is None:
            return None
        self.unknown(where, raw, PASSWORD_OPTIONS)
        generate, column = raw.get("generate", False), raw.get("column")
        if not isinstance(generate, bool):
            self.bad(f"{where}.generate", "must be true or false")
        elif column is not None and not (isinstance(column, str) and column):
            self.bad(f"{where}.column", "must be a non-empty string")
        elif generate == (column is not None):
            self.bad(where, 'needs exactly one of generate = true, column = "..."')
        else:
            return PasswordSpec(generate=generate, column=column)
        return None

    def active(self, raw: object) -> ActiveSpec | None:
        raw = self.table("active", raw, 'column = "state" and values = ["active"]')
        if raw is None:
            return None
        before = len(self.problems)
        self.unknown("active", raw, ACTIVE_OPTIONS)
        column, values, flag = raw.get("column"), raw.get("values"), raw.get("disabled_flag")
        if not (isinstance(column, str) and column):
            self.bad("active.column", "must name the column that says whether a row is active")
        if (values is None) == (flag is None):
            self.bad("active", "needs exactly one of values = [...], disabled_flag = 2")
        if values is not None:
            values = [_scalar(v) for v in values] if isinstance(values, list) else []
            if not values or None in values:
                self.bad("active.values", 'must be a non-empty list of strings, e.g. ["active"]')
        if flag is not None and not (_is_int(flag) and flag > 0):
            self.bad("active.disabled_flag", "must be a positive integer (bit mask), e.g. 2")
        if len(self.problems) > before:
            return None
        return ActiveSpec(column, tuple(values) if values else None, flag)


def _read(path: Path) -> dict:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read the mapping file: {exc.strerror}"]) from None
    try:
        return tomllib.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - data.rfind(b"\n", 0, exc.start)
        raise ConfigError([f"{path}: line {line} column {column}: byte 0x{data[exc.start]:02X} "
                           "is not UTF-8; save the mapping file as UTF-8"]) from None  # fmt: skip
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}"]) from None


def parse_mapping(path: Path) -> MappingSpec:
    """Read and check a mapping file; raise ``ConfigError`` listing every problem."""
    doc = _read(path)
    p = _Parser(path)
    for section in doc:
        if section not in SECTIONS:
            p.bad(section, f"unknown section; {_suggest(section, SECTIONS)}")
    key = None
    if "key" not in doc:
        p.bad("key", 'missing; add a [key] table, e.g. column = "person_id"')
    else:
        key = p.field("key", doc["key"], name="key")
    fields: dict[str, FieldSpec] = {}
    password = None
    valid = (*FIELDS, "password")
    raw_fields = p.table("fields", doc.get("fields", {}), "[fields]") or {}
    for name, raw in raw_fields.items():
        if name == "password":
            password = p.password("fields.password", raw)
        elif name not in FIELDS:
            p.bad(f"fields.{name}", f"unknown field {name!r}; {_suggest(name, valid, _ALIASES)}")
        elif spec := p.field(f"fields.{name}", raw, name=name):
            fields[name] = spec
    for name in FIELDS:
        if name in REQUIRED_BY_DEFAULT and name not in raw_fields:
            p.bad(f"fields.{name}", "missing; every mapping maps firstname, lastname, email "
                  "and loginname (required = false allows empty values)")  # fmt: skip
    extras: dict[str, FieldSpec] = {}
    for name, raw in (p.table("extra", doc.get("extra", {}), "[extra]") or {}).items():
        if not re.fullmatch(r"[A-Za-z0-9_]+", name):
            p.bad(f"extra.{name}", "an extra field name holds only letters, digits and _")
        elif spec := p.field(f"extra.{name}", raw, name="extra"):
            extras[name] = spec
    active = p.active(doc["active"]) if "active" in doc else None
    if p.problems or key is None:
        raise ConfigError(p.problems)
    ordered = {n: fields[n] for n in FIELDS if n in fields}
    return MappingSpec(
        path=path,
        key=key,
        fields=MappingProxyType(ordered),
        extras=MappingProxyType(extras),
        active=active,
        password=password,
    )


def load_mapping(path: Path) -> MappingSpec:
    """Read and check a mapping file; raise ``ConfigError`` listing every problem."""
    return parse_mapping(path)
