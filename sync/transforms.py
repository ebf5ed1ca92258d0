"""Vectorised value operations of mapping files (SPEC §3): the ``transform`` names, date
parsing and formatting, e-mail checks.

Every function takes and returns whole pandas Series of ``str`` (object dtype); problems come
back as a Series holding a reason (``str``) or ``None`` per row.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

import numpy as np
import pandas as pd

# Letters NFKD does not decompose into an ASCII base letter.
_ASCII_TABLE = str.maketrans(
    {
        "ø": "o", "Ø": "O", "ß": "ss", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE",
        "ł": "l", "Ł": "L", "đ": "d", "Đ": "D",
    }
)  # fmt: skip


def strip(values: pd.Series) -> pd.Series:
    return values.str.strip()


def lower(values: pd.Series) -> pd.Series:
    return values.str.lower()


def upper(values: pd.Series) -> pd.Series:
    return values.str.upper()


def title(values: pd.Series) -> pd.Series:
    return values.str.title()


def to_ascii(values: pd.Series) -> pd.Series:
    """Transliterate to ASCII: accents dropped (é→e, ñ→n), ø→o, ß→ss, æ→ae, œ→oe, ł→l, đ→d
    (and their capitals), any other non-ASCII character dropped, ASCII kept as it is."""
    if values.empty:
        return values.astype(object)
    return (
        values.str.translate(_ASCII_TABLE)
        .str.normalize("NFKD")
        .str.encode("ascii", "ignore")
        .str.decode("ascii")
    )


#: The ``transform`` names a mapping file may use, in the order the docs list them.
TRANSFORMS: Mapping[str, Callable[[pd.Series], pd.Series]] = {
    "strip": strip,
    "lower": lower,
    "upper": upper,
    "title": title,
    "ascii": to_ascii,
}


def apply_transforms(values: pd.Series, names: Sequence[str]) -> pd.Series:
    """Apply the named transforms in order."""
    for name in names:
        values = TRANSFORMS[name](values)
    return values


def no_problems(index: pd.Index) -> pd.Series:
    """A problem column with no problem: ``None`` for every row."""
    return pd.Series(np.full(len(index), None, dtype=object), index=index)


def quote(values: pd.Series) -> pd.Series:
    """Values as they appear in reasons (``'x'``, control characters escaped); meant for the
    few rejected rows."""
    return values.map(repr)


# ---------------------------------------------------------------------------------- dates

_TIME_DIRECTIVES = frozenset("HIMSfpXc")
_SAMPLE = datetime(2001, 2, 3, 4, 5, 6)
ISO_HINT = "YYYY-MM-DD or YYYY-MM-DD HH:MM[:SS]"


def _directives(fmt: str) -> list[str]:
    return re.findall(r"%(.)", fmt.replace("%%", ""))


def has_time(fmt: str) -> bool:
    """Whether a strftime pattern reads a time of day."""
    return any(d in _TIME_DIRECTIVES for d in _directives(fmt))


def format_problem(fmt: str) -> str | None:
    """Why ``fmt`` is not a usable date pattern, or ``None`` when it is."""
    if not _directives(fmt):
        return f"format {fmt!r} has no % directive (e.g. '%d/%m/%Y')"
    try:
        datetime.strptime(_SAMPLE.strftime(fmt), fmt)
    except ValueError as exc:
        return f"format {fmt!r} is not a valid date pattern: {exc}"
    return None


def _render(moment: datetime, with_time: bool) -> str:
    day = f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
    if with_time:
        return f"{day} {moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    return f"{day} 23:59:59"


def _parse(text: pd.Series, fmt: str, with_time: bool) -> pd.Series:
    """Each distinct value parsed once (dates repeat a lot), then spread back."""
    unique = pd.Series(text.unique(), dtype=object)
    rendered = _parse_unique(unique, fmt, with_time)
    return text.map(dict(zip(unique, rendered)))


def _parse_unique(text: pd.Series, fmt: str, with_time: bool) -> pd.Series:
    parsed = pd.to_datetime(text, format=fmt, errors="coerce")
    pattern = "%Y-%m-%d %H:%M:%S" if with_time else "%Y-%m-%d 23:59:59"
    out = parsed.dt.strftime(pattern).astype(object).where(parsed.notna(), None)
    failed = parsed.isna()
    if failed.any():
        # pandas' range ends in 2262: retry the few failures (e.g. 31/12/9999) one by one.
        retried = {}
        for value in text[failed].unique():
            try:
                retried[value] = _render(datetime.strptime(value, fmt), with_time)
            except ValueError:
                retried[value] = None
        out[failed] = text[failed].map(retried)
    return out


def format_dates(values: pd.Series, fmt: str | None) -> pd.Series:
    """Parse non-empty date strings and render them as Chamilo wants them.

    With ``fmt`` (a strftime pattern): a pattern without a time part gives
    ``YYYY-MM-DD 23:59:59`` (valid through that day), one with a time gives
    ``YYYY-MM-DD HH:MM:SS``. Without ``fmt``: ``YYYY-MM-DD`` (→ 23:59:59) or
    ``YYYY-MM-DD HH:MM[:SS]`` (a ``T`` separator is accepted too). Surrounding whitespace is
    ignored. Unparsable values give ``None``.
    """
    text = values.str.strip()
    if fmt is not None:
        return _parse(text, fmt, has_time(fmt))
    out = no_problems(values.index)
    day = text.str.fullmatch(r"\d{4}-\d{2}-\d{2}")
    timed = text.str.fullmatch(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2})?")
    if day.any():
        out[day] = _parse(text[day], "%Y-%m-%d", False)
    if timed.any():
        full = text[timed].str.replace("T", " ", n=1)
        full = full.where(full.str.len() == 19, full + ":00")
        out[timed] = _parse(full, "%Y-%m-%d %H:%M:%S", True)
    return out


# ---------------------------------------------------------------------------------- email


def email_problems(values: pd.Series) -> pd.Series:
    """Per non-empty address: why it is invalid, or ``None``. Valid: exactly one ``@``, a
    non-empty local part, a domain with a dot (not at its start or end), no whitespace."""
    out = no_problems(values.index)
    valid = values.str.fullmatch(r"[^@\s]+@(?=[^@\s]*\.)[^@\s.](?:[^@\s]*[^@\s.])?")
    if valid.all():
        return out
    values = values[~valid]
    found = no_problems(values.index)
    domain = values.str.partition("@")[2]
    checks = [
        (values.str.count("@") != 1, "must contain exactly one '@'"),
        (values.str.startswith("@"), "has an empty part before '@'"),
        (
            ~domain.str.contains(".", regex=False)
            | domain.str.startswith(".")
            | domain.str.endswith("."),
            "needs a domain with a dot after '@' (like example.org)",
        ),
        (values.str.contains(r"\s", regex=True), "contains whitespace"),
    ]
    for bad, why in checks:
        hit = bad & found.isna()
        if hit.any():
            found[hit] = "email " + quote(values[hit]) + " " + why
    out[found.index] = found
    return out
