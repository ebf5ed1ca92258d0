"""What every state store does with users, whatever it stores them in.

* :class:`UserRow`: one known user, as a frozen value.
* :func:`apply_batch`: the rows a batch of outcomes produces (the rules of
  ``StateStore.record``), so the memory and SQL stores cannot disagree.
* :func:`known_frame`: the known frame (``sync.model``) built from columns.

Rules for :func:`apply_batch` (only ``applied`` outcomes count):

* create / adopt: the row is (re)written: values = the change's fields, user id = the
  outcome's, source = the change's, active.
* update / enable: the change's fields are merged into the last pushed values (other keys
  kept); a non-``None`` ``change.source`` becomes the owner (ownership follows the source
  that now provides the user); an outcome user id replaces the stored one; enable also sets
  active. For a key the store does not know, the row is created as for create.
* disable: active cleared; values kept. A disable of an unknown key is ignored.

A ``password`` field (or ``extra.password``) is never stored: it is dropped with a warning.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np
import pandas as pd

from sync.model import (
    ACTIVE,
    EXTRA_PREFIX,
    FIELDS,
    KEY,
    SOURCE,
    USER_ID,
    Action,
    Change,
    Outcome,
    Status,
)

log = logging.getLogger(__name__)

_SECRET_NAMES = frozenset({"password", EXTRA_PREFIX + "password"})


@dataclass(frozen=True)
class UserRow:
    """One known user: the last pushed ``values`` (field name → string), the Chamilo user id,
    the owning source (``None``: imported, never disabled) and the active flag."""

    key: str
    chamilo_user_id: int | None
    source: str | None
    active: bool
    values: Mapping[str, str | None]
    created_at: datetime
    updated_at: datetime


def clean_values(fields: Mapping[str, object]) -> dict[str, str | None]:
    """The storable form of pushed field values: strings (or ``None``), no password."""
    out: dict[str, str | None] = {}
    for name, value in fields.items():
        name = str(name)
        if name.lower() in _SECRET_NAMES:
            log.warning("state store: refusing to store the %r field (a secret)", name)
            continue
        out[name] = None if _is_missing(value) else str(value)
    return out


def _is_missing(value: object) -> bool:
    if value is None or value is pd.NA:
        return True
    return isinstance(value, float) and math.isnan(value)


def applied_keys(batch: Sequence[tuple[Change, Outcome]]) -> list[str]:
    """The keys whose rows a batch may change, in first-seen order."""
    seen: dict[str, None] = {}
    for change, outcome in batch:
        _check_pair(change, outcome)
        if outcome.status is Status.APPLIED:
            seen.setdefault(change.key, None)
    return list(seen)


def apply_batch(
    current: Mapping[str, UserRow],
    batch: Sequence[tuple[Change, Outcome]],
    now: datetime,
) -> dict[str, UserRow]:
    """The rows changed by the applied outcomes of ``batch``, by key, given the ``current``
    rows of (at least) those keys. Items are applied in order, so a key adopted then
    updated in one batch ends up with both."""
    changed: dict[str, UserRow] = {}
    for change, outcome in batch:
        _check_pair(change, outcome)
        if outcome.status is not Status.APPLIED:
            continue
        key = change.key
        row = changed.get(key, current.get(key))
        new = _apply_one(row, change, outcome, now)
        if new is not None:
            changed[key] = new
    return changed


def _apply_one(
    row: UserRow | None, change: Change, outcome: Outcome, now: datetime
) -> UserRow | None:
    action = change.action
    if action is Action.DISABLE:
        if row is None:
            log.debug("state store: disable of unknown key %r ignored", change.key)
            return None
        return replace(row, active=False, updated_at=now)
    fields = clean_values(change.fields)
    if action in (Action.CREATE, Action.ADOPT) or row is None:
        return UserRow(
            key=change.key,
            chamilo_user_id=outcome.chamilo_user_id,
            source=change.source,
            active=True,
            values=fields,
            created_at=row.created_at if row is not None else now,
            updated_at=now,
        )
    # update / enable
    return replace(
        row,
        values={**row.values, **fields},
        source=change.source if change.source is not None else row.source,
        chamilo_user_id=(
            outcome.chamilo_user_id if outcome.chamilo_user_id is not None else row.chamilo_user_id
        ),
        active=True if action is Action.ENABLE else row.active,
        updated_at=now,
    )


def _check_pair(change: Change, outcome: Outcome) -> None:
    if change.key != outcome.key:
        raise ValueError(
            f"outcome for key {outcome.key!r} paired with a change for key {change.key!r}"
        )


def empty_known_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            USER_ID: pd.Series(dtype="Int64"),
            SOURCE: pd.Series(dtype=object),
            ACTIVE: pd.Series(dtype=bool),
        },
        index=pd.Index([], dtype=object, name=KEY),
    )


def known_frame(
    keys: Sequence[str],
    values: Iterable[Mapping[str, str | None]],
    user_ids: Sequence[int | None],
    sources: Sequence[str | None],
    actives: Sequence[bool],
) -> pd.DataFrame:
    """The known frame from per-user columns (``values`` may be a lazy iterable, e.g.
    ``map(json.loads, texts)``): field columns in the order of ``FIELDS`` then the rest
    sorted, missing values ``None``; then the meta columns."""
    if len(keys) == 0:
        return empty_known_frame()
    index = pd.Index(keys, dtype=object, name=KEY)
    fields = pd.DataFrame.from_records(list(values), index=index, coerce_float=False)
    fields = fields[_column_order(fields.columns)].astype(object)
    fields = fields.where(fields.notna(), None)
    fields[USER_ID] = pd.array(user_ids, dtype="Int64")
    fields[SOURCE] = pd.Series(list(sources), index=index, dtype=object)
    fields[ACTIVE] = np.asarray(actives, dtype=bool)
    return fields


def _column_order(columns: Iterable[str]) -> list[str]:
    present = set(columns)
    ordered = [f for f in FIELDS if f in present]
    return ordered + sorted(present - set(ordered))
