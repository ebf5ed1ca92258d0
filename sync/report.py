"""The run report (SPEC §6) as a plain dict: one shape for ``plan`` and ``apply``.

Passwords never appear: no password is ever part of a ``Change``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sync.model import (
    EXTRA_PREFIX,
    FIELDS,
    Action,
    Change,
    Outcome,
    Plan,
    Status,
)


@dataclass(frozen=True)
class RunResult:
    """What a run did: its plan and, for apply, the per-user outcomes."""

    mode: str
    plan: Plan
    started_at: datetime
    finished_at: datetime
    outcomes: tuple[Outcome, ...] = ()
    applied: bool = False  # outcomes belong in the report (apply, import)
    notes: tuple[str, ...] = field(default_factory=tuple)
    stopped: bool = False  # a signal stopped the run before every planned change was sent

    def exit_code(self) -> int:
        bad = any(o.status is not Status.APPLIED for o in self.outcomes)
        return 1 if (self.plan.rejected or bad or self.stopped) else 0

    def outcome_counts(self) -> dict[str, int]:
        out = {s.value: 0 for s in Status}
        for o in self.outcomes:
            out[o.status.value] += 1
        return out


def now() -> datetime:
    return datetime.now(timezone.utc)


def report_dict(result: RunResult, change_sources: bool | None = None) -> dict:
    """SPEC §6. ``change_sources``: name each change's source (default: only when the run
    read several sources, so a one-source report matches SPEC's example exactly)."""
    plan = result.plan
    counts = plan.counts()
    summary = {
        "create": counts["create"],
        "update": counts["update"],
        "enable": counts["enable"],
        "disable": counts["disable"],
        "unchanged": counts["unchanged"],
        "rejected": counts["rejected"],
        "failed": sum(1 for o in result.outcomes if o.status is Status.FAILED),
    }
    with_source = len(plan.sources) > 1 if change_sources is None else change_sources
    out = {
        "mode": result.mode,
        "started_at": _iso(result.started_at),
        "finished_at": _iso(result.finished_at),
        "sources": [{"name": s.name, "rows": s.rows, "rejected": s.rejected} for s in plan.sources],
        "summary": summary,
        "changes": [change_dict(c, with_source=with_source) for c in plan.changes],
        "rejected": [r.as_dict() for r in plan.rejected],
    }
    if result.applied:
        out["outcomes"] = [o.as_dict() for o in result.outcomes]
    return out


def change_dict(change: Change, with_source: bool = False) -> dict:
    """One entry of ``changes`` as SPEC §6 shows it. ``with_source`` (runs over several
    sources) adds ``source``: the source the change came from."""
    out: dict = {"action": change.action.value, "key": change.key}
    if change.action is Action.CREATE:
        out["fields"] = _nest(change.fields)
    elif change.action is Action.UPDATE:
        out["changes"] = _nest({k: {"old": _typed(k, old), "new": _typed(k, new)}
                                for k, (old, new) in change.changes.items()}, typed=False)
    if with_source and change.source is not None:
        out["source"] = change.source
    return out


def _nest(values, typed: bool = True) -> dict:
    """Chamilo fields first, in FIELDS order, then ``extra: {name: value}``."""
    out: dict = {}
    for name in FIELDS:
        if name in values:
            out[name] = _typed(name, values[name]) if typed else values[name]
    extras = {k[len(EXTRA_PREFIX):]: values[k] for k in values if k.startswith(EXTRA_PREFIX)}
    if extras:
        out["extra"] = extras
    return out


def _typed(name: str, value):
    if name == "status" and value is not None:
        try:
            return int(value)
        except (TypeError, ValueError):
            return value
    return value


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def text_summary_lines(result: RunResult) -> Sequence[str]:
    d = report_dict(result)
    s = d["summary"]
    lines = [
        f"{result.mode}: {s['create']} to create, {s['update']} to update, {s['enable']} to "
        f"enable, {s['disable']} to disable, {s['unchanged']} unchanged, {s['rejected']} rejected"
        if not result.applied else
        f"{result.mode}: {s['create']} create, {s['update']} update, {s['enable']} enable, "
        f"{s['disable']} disable, {s['unchanged']} unchanged, {s['rejected']} rejected"
    ]
    if result.applied:
        oc = result.outcome_counts()
        lines.append(f"outcomes: {oc['applied']} applied, {oc['failed']} failed, "
                     f"{oc['unknown']} unknown")
    return lines
