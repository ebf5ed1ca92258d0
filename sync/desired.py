"""The desired state: unique keys and loginnames, and several mapped sources combined.

Duplicates reject every row involved (SPEC §3): the tool cannot know which one is right.
Keys and loginnames are compared case-insensitively, as Chamilo does on MySQL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from sync.model import ACTIVE, EXTRA_PREFIX, FIELDS, KEY, LOCATOR, SOURCE, MappedSource, Rejection

_SHOWN = 5  # other rows named in a duplicate reason


def locator_labels(locator: pd.Series, kind: str, source: str | None = None) -> pd.Series:
    """How a row is named in a reason: ``line 7`` (CSV) or ``dn uid=x,…`` (LDAP), prefixed by
    ``source`` when given."""
    prefix = ("" if source is None else f"{source} ") + ("line " if kind == "csv" else "dn ")
    return prefix + locator.astype(str)


def rejection(source: str, key: str, field_name: str, reason: str, locator: object) -> Rejection:
    """A Rejection located by line (an int locator, CSV) or DN (a str locator, LDAP)."""
    if isinstance(locator, str):
        return Rejection(source, key, field_name, reason, dn=locator)
    return Rejection(source, key, field_name, reason, line=int(locator))


def duplicate_reasons(values: pd.Series, labels: pd.Series, what: str) -> pd.Series:
    """For each value equal to another one case-insensitively, a reason naming the other rows
    (``duplicate key 'P001' (also line 7)``); ``None`` for unique values. Same index as
    ``values``; ``labels`` names each row (see :func:`locator_labels`)."""
    out = pd.Series([None] * len(values), index=values.index, dtype=object)
    folded = values.str.lower()
    dup = folded.duplicated(keep=False)
    if not dup.any():
        return out
    rows = pd.DataFrame({"value": values[dup], "folded": folded[dup], "label": labels[dup]})
    reasons = {}
    for _, group in rows.groupby("folded", sort=False):
        spellings: dict[str, list[str]] = {}  # exact value -> labels of its rows
        for value, label in zip(group["value"], group["label"]):
            spellings.setdefault(value, []).append(label)
        for index, value, label in zip(group.index, group["value"], group["label"]):
            same = spellings[value]
            others = [x for x in same[: _SHOWN + 1] if x != label][:_SHOWN]
            parts = [f"also {_names(others, len(same) - 1)}"] if len(same) > 1 else []
            case: list[str] = []
            for other, their in spellings.items():
                if len(case) >= _SHOWN:
                    break
                if other != value:
                    case += [f"{other!r} {x}" for x in their[: _SHOWN - len(case)]]
            if case:
                parts.append(f"equal but for case: {_names(case, len(group) - len(same))}")
            reasons[index] = f"duplicate {what} {value!r} ({'; '.join(parts)})"
    out[list(reasons)] = list(reasons.values())
    return out


def _names(shown: list[str], total: int) -> str:
    more = f" and {total - len(shown)} more" if total > len(shown) else ""
    return ", ".join(shown) + more


@dataclass(frozen=True)
class Combined:
    """All sources of a run, combined.

    ``desired``: one row per key (index ``key``), union of the sources' columns. A field cell
    is ``None`` when the row's source does not map that field: the diff must leave such fields
    alone (it is not an empty value). ``present_keys``: every key seen in any source, rejected
    rows included, in the winning spelling. ``passwords``: key → password from a source's
    column (secret). ``generate_passwords_for``: keys whose source says ``generate = true``.
    """

    desired: pd.DataFrame
    rejected: tuple[Rejection, ...]
    present_keys: frozenset[str]
    passwords: Mapping[str, str] = field(default_factory=dict, repr=False)
    generate_passwords_for: frozenset[str] = frozenset()


def _column_order(frames: Sequence[pd.DataFrame]) -> list[str]:
    seen = {c: None for f in frames for c in f.columns}
    extras = [c for c in seen if str(c).startswith(EXTRA_PREFIX)]
    return [*(c for c in FIELDS if c in seen), *extras, ACTIVE, SOURCE, LOCATOR]


def combine(mapped: Sequence[MappedSource]) -> Combined:
    """Combine mapped sources given in precedence order (first wins).

    A key seen in an earlier source (valid or rejected; compared case-insensitively, the
    earlier spelling kept) is taken from that source only: later sources' rows and rejections
    for it are ignored silently. Then two keys sharing a loginname (case-insensitively) across
    sources are both rejected and dropped from ``desired``; their keys stay present.
    """
    claimed: set[str] = set()
    frames, rejected, present, passwords, generate = [], [], set(), {}, set()
    for source in mapped:
        keys = source.desired.index.to_series().astype(str)
        keep = ~keys.str.lower().isin(claimed).to_numpy()
        frames.append(source.desired[keep])
        rejected += [r for r in source.rejected if not r.key or r.key.lower() not in claimed]
        present |= {k for k in source.present_keys if k.lower() not in claimed}
        passwords.update({k: v for k, v in source.passwords.items() if k.lower() not in claimed})
        if source.generate_passwords:
            generate |= set(source.desired.index[keep])
        claimed |= {k.lower() for k in source.present_keys}
    columns = _column_order(frames)
    filled = [f for f in frames if len(f)]
    desired = pd.concat(filled) if filled else pd.DataFrame(columns=columns)
    desired = desired.reindex(columns=columns)
    for column in columns[:-3]:
        desired[column] = desired[column].astype(object).where(desired[column].notna(), None)
    desired.index.name = KEY
    if "loginname" in desired:
        login = desired["loginname"]
        usable = login.notna() & (login != "")
        usable &= login.where(usable, "").str.lower().duplicated(keep=False)
        clash = desired[usable]
        labels = pd.Series(
            [f"{s} {'dn' if isinstance(loc, str) else 'line'} {loc}"
             for s, loc in zip(clash[SOURCE], clash[LOCATOR])],
            index=clash.index, dtype=object,
        )  # fmt: skip
        reasons = duplicate_reasons(clash["loginname"], labels, "loginname").dropna()
        owners = desired.loc[reasons.index, [SOURCE, LOCATOR]]
        rejected += [
            rejection(source, key, "loginname", reason, locator)
            for key, reason, source, locator in zip(
                reasons.index, reasons, owners[SOURCE], owners[LOCATOR]
            )
        ]
        desired = desired.drop(index=reasons.index)
        for key in reasons.index:
            passwords.pop(key, None)
            generate.discard(key)
    return Combined(desired, tuple(rejected), frozenset(present), passwords, frozenset(generate))
