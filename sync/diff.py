"""The diff engine: desired frame × known frame → Plan (SPEC §7). Pure and vectorised.

Only rows that change become ``Change`` objects; unchanged users stay inside pandas.

Keys are matched case-insensitively, as Chamilo matches original ids: a source key ``p001``
and a known key ``P001`` are the same person, and the plan uses the state store's spelling.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sync.model import (
    ACTIVE,
    KEY,
    SOURCE,
    Action,
    Change,
    Plan,
    Rejection,
    SourceSummary,
    field_columns,
)


@dataclass(frozen=True)
class DiffOptions:
    """``scope``: the sources read in this run (``None``: all configured); only users owned by
    one of them can be disabled. ``on_missing``: ``"disable"`` or ``"keep"`` for managed users
    absent from every source of the run. ``import_mode``: one-off import: nothing is disabled,
    created users are owned by no source."""

    scope: frozenset[str] | None = None
    on_missing: str = "disable"
    import_mode: bool = False


def plan_changes(
    desired: pd.DataFrame,
    known: pd.DataFrame,
    present_keys: Iterable[str],
    options: DiffOptions = DiffOptions(),
    rejected: Sequence[Rejection] = (),
    sources: Sequence[SourceSummary] = (),
) -> Plan:
    desired = _adopt_known_spelling(desired, known)
    matched = desired.index.isin(known.index)
    active = desired[ACTIVE].to_numpy(dtype=bool)

    changes: list[Change] = []
    owner = _owner_series(desired, options)

    # create: unknown and active
    create_rows = desired[~matched & active]
    changes += _changes_with_fields(Action.CREATE, create_rows, owner)

    # enable / update: known and active in the source
    present_known = desired[matched & active]
    known_aligned = known.reindex(present_known.index)
    was_active = known_aligned[ACTIVE].to_numpy(dtype=bool)
    enable_keys = present_known.index[~was_active]
    changes += [Change(Action.ENABLE, str(k), _owner(owner, k)) for k in enable_keys]

    diff_mask, field_cols = _field_differences(present_known, known_aligned)
    changed = diff_mask.any(axis=1) if field_cols else np.zeros(len(present_known), dtype=bool)
    changes += _update_changes(present_known[changed], known_aligned[changed],
                               diff_mask[changed], field_cols, owner)

    # disable: managed, active, in scope, and marked inactive or absent
    disable_keys = [] if options.import_mode else _disable_keys(desired, known, present_keys, options)
    changes += [Change(Action.DISABLE, str(k), _known_source(known, k)) for k in disable_keys]

    touched = set(enable_keys) | set(present_known.index[changed])
    unchanged = int(len(desired) - len(create_rows) - len(touched & set(desired.index))
                    - len(set(disable_keys) & set(desired.index)))
    return Plan(
        changes=tuple(changes),
        unchanged=unchanged,
        rejected=tuple(rejected),
        sources=tuple(sources),
        managed_active=_managed_active(known),
    )


def _adopt_known_spelling(desired: pd.DataFrame, known: pd.DataFrame) -> pd.DataFrame:
    """Rename desired keys that equal a known key but for case to the known spelling."""
    if desired.empty or known.empty:
        return desired
    folded_known = pd.Series(known.index, index=known.index.str.casefold())
    folded_known = folded_known[~folded_known.index.duplicated()]
    spelled = pd.Series(desired.index.str.casefold(), index=desired.index).map(folded_known)
    differs = spelled.notna() & (spelled != desired.index)
    if not differs.any():
        return desired
    renamed = desired.copy()
    renamed.index = pd.Index(np.where(differs, spelled, desired.index), name=KEY)
    return renamed


def _owner_series(desired: pd.DataFrame, options: DiffOptions) -> pd.Series:
    if options.import_mode or SOURCE not in desired.columns:
        return pd.Series(None, index=desired.index, dtype=object)
    return desired[SOURCE]


def _field_differences(present: pd.DataFrame, known: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Per field: does the desired value (when this row's source maps it: not None) differ
    from the last pushed one? A never-pushed value counts as ``""``."""
    cols = field_columns(present.columns)
    if not cols or present.empty:
        return pd.DataFrame(index=present.index, columns=cols, dtype=bool), cols
    want = present[cols]
    had = known.reindex(columns=cols)
    mapped = want.notna().to_numpy()
    want_s = want.fillna("").astype(str).to_numpy()
    had_s = had.fillna("").astype(str).to_numpy()
    mask = mapped & (want_s != had_s)
    return pd.DataFrame(mask, index=present.index, columns=cols), cols


def _changes_with_fields(action: Action, rows: pd.DataFrame, owner: pd.Series) -> list[Change]:
    if rows.empty:
        return []
    cols = field_columns(rows.columns)
    records = rows[cols].to_dict(orient="index")
    return [
        Change(action, str(key), _owner(owner, key), fields=_present(values))
        for key, values in records.items()
    ]


def _update_changes(rows: pd.DataFrame, known: pd.DataFrame, mask: pd.DataFrame,
                    cols: list[str], owner: pd.Series) -> list[Change]:
    if rows.empty:
        return []
    want = rows[cols].to_dict(orient="index")
    had = known.reindex(columns=cols).to_dict(orient="index")
    flags = mask.to_dict(orient="index")
    out = []
    for key, values in want.items():
        old = had[key]
        diffs = {c: (_none_if_missing(old[c]), values[c]) for c in cols if flags[key][c]}
        out.append(Change(Action.UPDATE, str(key), _owner(owner, key), fields=_present(values),
                          changes=diffs))
    return out


def _disable_keys(desired: pd.DataFrame, known: pd.DataFrame, present_keys: Iterable[str],
                  options: DiffOptions) -> list[str]:
    if known.empty:
        return []
    sources = known[SOURCE]
    managed = sources.notna().to_numpy()
    if options.scope is not None:
        managed &= sources.isin(list(options.scope)).to_numpy()
    candidates = known[managed & known[ACTIVE].to_numpy(dtype=bool)]
    if candidates.empty:
        return []
    folded = candidates.index.str.casefold()
    inactive = desired.index[~desired[ACTIVE].to_numpy(dtype=bool)].str.casefold()
    marked = folded.isin(inactive)
    absent = np.zeros(len(candidates), dtype=bool)
    if options.on_missing == "disable":
        present = pd.Index(list(present_keys), dtype=object).str.casefold()
        active_desired = desired.index[desired[ACTIVE].to_numpy(dtype=bool)].str.casefold()
        absent = ~folded.isin(present.union(active_desired)) & ~marked
    return [str(k) for k in candidates.index[marked | absent]]


def _managed_active(known: pd.DataFrame) -> int:
    """Active users owned by any source: the base of a ``max_disable`` share (SPEC §7), the
    same whether or not ``--source`` limits the run."""
    if known.empty:
        return 0
    return int((known[SOURCE].notna() & known[ACTIVE].astype(bool)).sum())


def _owner(owner: pd.Series, key) -> str | None:
    return _none_if_missing(owner.get(key))


def _known_source(known: pd.DataFrame, key: str) -> str | None:
    return _none_if_missing(known.at[key, SOURCE])


def _present(values: dict) -> dict[str, str]:
    """The values this row's source maps (None = not mapped by it)."""
    return {c: str(v) for c, v in values.items() if not _missing(v)}


def _none_if_missing(value):
    return None if _missing(value) else value


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA
