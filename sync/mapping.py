"""Apply a mapping spec to a raw frame: the desired frame of one source plus its rejections.

Per field: source value (column, template or constant) → transforms in order → ``map`` /
``default`` → date ``format`` → validation (required, email, status). Decisions where SPEC §3
is silent:

* One Rejection per rejected row: its first problem, in the order ``row`` (the CSV adapter's
  ``_row_error``), ``key`` (empty, duplicate, equal but for case), the Chamilo fields in
  :data:`sync.model.FIELDS` order (loginname duplicates at ``loginname``), ``extra.<name>`` in
  file order, then ``active``. So ``sources[].rejected`` counts rows.
* ``status`` not mapped, or mapped but empty and optional: ``"5"`` (student), as Chamilo's
  WSEditUsers does for an empty status. Values are normalised integers (``"05"`` → ``"5"``).
* ``required`` is checked after ``default``: a field with a default is never empty.
* Key duplicates count every row with a non-empty key (rejected rows too). Loginname
  duplicates count rows with a non-empty key, no ``_row_error`` and a valid non-empty login.
* Rows marked inactive are validated like the others (a failing one is rejected).
* ``[active]`` reads the first LDAP value; a template reads raw (untransformed) values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sync.desired import duplicate_reasons, locator_labels
from sync.mapping_spec import ROW_ERROR, FieldSpec, MappingSpec, check_columns
from sync.model import (
    ACTIVE,
    EXTRA_PREFIX,
    FIELDS,
    KEY,
    LOCATOR,
    SOURCE,
    MappedSource,
    Rejection,
    SourceData,
)
from sync.transforms import (
    ISO_HINT,
    apply_transforms,
    email_problems,
    format_dates,
    no_problems,
    quote,
)

STUDENT = "5"


class _Reader:
    """Source columns as Series of ``str``; LDAP names match case-insensitively and list cells
    reduce to their first value, ``join``-ed values or value ``index``."""

    def __init__(self, frame: pd.DataFrame, kind: str) -> None:
        self.frame, self.ldap = frame, kind == "ldap"
        self.names = {str(c).lower(): c for c in frame.columns} if self.ldap else None
        self.cache: dict[tuple, pd.Series] = {}

    def blank(self, value: str = "") -> pd.Series:
        return pd.Series([value] * len(self.frame), index=self.frame.index, dtype=object)

    def column(self, name: str, join: str | None = None, index: int | None = None) -> pd.Series:
        key = (name, join, index)
        if key not in self.cache:
            if not self.ldap:
                cells = self.frame[name]
                self.cache[key] = cells.where(cells.notna(), "").astype(object)
            elif name.lower() not in self.names:
                self.cache[key] = self.blank()
            else:
                cells = self.frame[self.names[name.lower()]]
                picked = cells.str.join(join) if join is not None else cells.str[index or 0]
                self.cache[key] = picked.where(picked.notna(), "").astype(object)
        return self.cache[key]


def _render(spec: FieldSpec, reader: _Reader) -> tuple[pd.Series, pd.Series]:
    names = spec.template_columns
    columns = [reader.column(n, spec.join, spec.index) for n in names]
    template, failed = spec.template, object()

    def fill(row: tuple) -> object:
        try:
            return template.format_map(dict(zip(names, row)))
        except (IndexError, KeyError, ValueError, TypeError):
            return failed

    rendered = [fill(row) for row in zip(*columns)]
    bad = np.fromiter((v is failed for v in rendered), dtype=bool, count=len(rendered))
    out = pd.Series(rendered, index=reader.frame.index, dtype=object).where(~bad, "")
    reason = f"template {template!r} cannot be filled from this row"
    return out, no_problems(out.index).mask(bad, reason)


def _flag(problems: pd.Series, mask: pd.Series, reason: str | pd.Series) -> pd.Series:
    """Set ``reason`` where ``mask`` holds and the row has no problem yet. ``reason``: a
    string, or a Series of reasons (``None``: no problem) for some or all rows."""
    hit = mask & problems.isna()
    if not hit.any():
        return problems
    out = problems.copy()
    out[hit] = reason.reindex(out.index)[hit] if isinstance(reason, pd.Series) else reason
    return out


def _flag_value(problems: pd.Series, mask: pd.Series, values: pd.Series, before: str,
                after: str) -> pd.Series:  # fmt: skip
    """:func:`_flag` with a reason quoting each row's value: ``before 'value' after``."""
    hit = mask & problems.isna()
    return _flag(problems, hit, before + quote(values[hit]) + after)


def _evaluate(spec: FieldSpec, name: str, reader: _Reader) -> tuple[pd.Series, pd.Series]:
    """(values, problems) of one field: ``str`` values, a reason or ``None`` per row."""
    problems = no_problems(reader.frame.index)
    if spec.column is not None:
        values = reader.column(spec.column, spec.join, spec.index)
    elif spec.template is not None:
        values, problems = _render(spec, reader)
    else:
        values = reader.blank(spec.value)
    values = apply_transforms(values, spec.transform)
    empty = values == ""
    if spec.map is not None:
        mapped = values.map(dict(spec.map))
        missing = mapped.isna()
        if spec.default is None:
            known = ", ".join(spec.map)
            after = f" is not in map (known: {known})"
            problems = _flag_value(problems, missing & ~empty, values, "value ", after)
            values = mapped.where(~missing, values)
        else:
            values = mapped.where(~missing, spec.default)
    elif spec.default is not None:
        values = values.where(~empty, spec.default)
    empty = values == ""
    if spec.required:
        problems = _flag(problems, empty, f"required value is empty ({spec.describe()})")
    if name == "status":
        values = values.where(~empty, STUDENT).str.strip()
        integer = values.str.fullmatch(r"\d+")
        problems = _flag_value(problems, ~integer, values, "status ", " is not an integer")
        digits = values.str.lstrip("0")  # "05" -> "5", "00" -> "0"
        values = digits.where(~integer | (digits != ""), "0")
    elif name == "expiration_date" or spec.format is not None:
        dates = format_dates(values[~empty], spec.format)
        expected = f"format {spec.format!r}" if spec.format else ISO_HINT
        bad = dates.isna().reindex(values.index, fill_value=False)
        after = f" is not a valid date (expected {expected})"
        problems = _flag_value(problems, bad, values, "date ", after)
        values = values.copy()
        values[~empty] = dates.where(dates.notna(), values[~empty])
    elif name == "email":
        problems = _flag(problems, ~empty, email_problems(values[~empty]))
    return values.astype(object), problems


def _active(spec: MappingSpec, reader: _Reader) -> tuple[pd.Series, pd.Series]:
    ok = no_problems(reader.frame.index)
    if spec.active is None:
        return pd.Series(True, index=reader.frame.index), ok
    values = reader.column(spec.active.column).str.strip()
    if spec.active.values is not None:
        wanted = [v.strip().lower() for v in spec.active.values]
        return values.str.lower().isin(wanted), ok
    integer = values.str.fullmatch(r"[+-]?\d+")
    flags = pd.to_numeric(values.where(integer, "0")).astype("int64")
    flag = spec.active.disabled_flag
    after = f" is not an integer (disabled_flag = {flag})"
    return integer & ((flags & flag) == 0), _flag_value(ok, ~integer, values, "value ", after)


_UNSAFE = r"['\\\x00-\x1f]"


def _flag_unsafe_for_chamilo_sql(values: pd.Series, problems: pd.Series) -> pd.Series:
    """Chamilo 1.11 looks original ids (and, on edit, logins) up with SQL it does not escape:
    a quote, a backslash or a control character breaks the call, so such rows are rejected."""
    unsafe = values.astype(str).str.contains(_UNSAFE, regex=True) & problems.isna()
    if not unsafe.any():
        return problems
    reasons = values[unsafe].map(repr) + (" contains a quote, backslash or control character, "
                                          "which Chamilo's web service cannot handle (its SQL "
                                          "is not escaped)")
    out = problems.copy()
    out[unsafe] = reasons
    return out


def map_source(spec: MappingSpec, data: SourceData) -> MappedSource:
    """Map one source's raw frame (see ``sync.model``) into a :class:`MappedSource`."""
    frame = data.frame.reset_index(drop=True)
    if data.kind == "csv":
        check_columns(spec, list(frame.columns), data.origin)
    reader = _Reader(frame, data.kind)
    n = len(frame)
    if LOCATOR in frame:
        locator = frame[LOCATOR]
    else:
        locator = pd.Series(range(2, n + 2)) if data.kind == "csv" else reader.blank()
    labels = locator_labels(locator, data.kind)
    problems: dict[str, pd.Series] = {}
    row_ok = pd.Series(True, index=frame.index)
    if ROW_ERROR in frame:
        errors = frame[ROW_ERROR].where(frame[ROW_ERROR].notna(), "").astype(str)
        row_ok = errors == ""
        problems["row"] = errors.where(~row_ok, None)

    key, key_problems = _evaluate(spec.key, "key", reader)
    key_problems = _flag_unsafe_for_chamilo_sql(key, key_problems)
    has_key = key_problems.isna() & (key != "")
    duplicates = duplicate_reasons(key[has_key], labels[has_key], "key")
    problems["key"] = _flag(key_problems, has_key, duplicates)

    values: dict[str, pd.Series] = {}
    for name in FIELDS:
        if name in spec.fields:
            values[name], problems[name] = _evaluate(spec.fields[name], name, reader)
        elif name == "status":
            values[name], problems[name] = reader.blank(STUDENT), no_problems(frame.index)
    if "loginname" in values:
        login = values["loginname"]
        problems["loginname"] = _flag_unsafe_for_chamilo_sql(login, problems["loginname"])
        usable = has_key & row_ok & problems["loginname"].isna() & (login != "")
        clashes = duplicate_reasons(login[usable], labels[usable], "loginname")
        problems["loginname"] = _flag(problems["loginname"], usable, clashes)
    for name, extra in spec.extras.items():
        column = EXTRA_PREFIX + name
        values[column], problems[column] = _evaluate(extra, column, reader)
    active, problems["active"] = _active(spec, reader)

    table = pd.DataFrame(problems).notna().to_numpy()
    rejected_mask = table.any(axis=1) if n else np.zeros(0, dtype=bool)
    first = table.argmax(axis=1) if n else np.zeros(0, dtype=int)
    names = list(problems)
    where = "line" if data.kind == "csv" else "dn"
    rejected = tuple(
        Rejection(
            data.name, key[i], names[first[i]], problems[names[first[i]]][i],
            **{where: int(locator[i]) if where == "line" else str(locator[i])},
        )
        for i in np.flatnonzero(rejected_mask)
    )  # fmt: skip

    valid = ~rejected_mask
    desired = pd.DataFrame({c: v[valid] for c, v in values.items()})
    desired[ACTIVE] = active[valid].astype(bool)
    desired[SOURCE] = data.name
    desired[LOCATOR] = locator[valid]
    desired.index = pd.Index(key[valid], name=KEY, dtype=object)

    passwords: dict[str, str] = {}
    if spec.password is not None and spec.password.column is not None:
        secret = reader.column(spec.password.column)[valid]
        passwords = dict(zip(key[valid][secret != ""], secret[secret != ""]))
    return MappedSource(
        name=data.name,
        rows=n,
        desired=desired,
        rejected=rejected,
        present_keys=frozenset(key[has_key]),
        passwords=passwords,
        generate_passwords=bool(spec.password and spec.password.generate),
    )
