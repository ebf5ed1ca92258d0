"""Cut a plan into batches per SOAP call, in apply order (enable, update, create, disable)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sync.model import APPLY_ORDER, Action, Change, Plan


@dataclass(frozen=True)
class Batch:
    action: Action
    changes: tuple[Change, ...]

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(c.key for c in self.changes)


def batches(plan: Plan, batch_size: int) -> Iterator[tuple[Action, list[Batch]]]:
    """For each action in apply order: its batches (all of one action run before the next)."""
    for action in APPLY_ORDER:
        changes = plan.of(action)
        if changes:
            yield action, [
                Batch(action, tuple(changes[i:i + batch_size]))
                for i in range(0, len(changes), batch_size)
            ]
