"""Safety guards (SPEC §7): refuse the dangerous case by name, before anything is sent."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sync.errors import SafetyStop
from sync.model import Action, Plan


@dataclass(frozen=True)
class MaxDisable:
    """A count (``"200"``) or a share of the active managed users (``"5%"``), rounded down."""

    count: int | None = None
    percent: float | None = None

    @classmethod
    def parse(cls, raw: Any) -> MaxDisable:
        if isinstance(raw, bool):
            raise ValueError("a count such as 200 or a share such as \"5%\"")
        if isinstance(raw, int):
            if raw < 0:
                raise ValueError("must not be negative")
            return cls(count=raw)
        if isinstance(raw, str):
            text = raw.strip()
            try:
                if text.endswith("%"):
                    pct = float(text[:-1])
                    if not 0 <= pct <= 100:
                        raise ValueError
                    return cls(percent=pct)
                count = int(text)
                if count < 0:
                    raise ValueError
                return cls(count=count)
            except ValueError:
                pass
        raise ValueError(f"expected a count such as 200 or a share such as \"5%\", got {raw!r}")

    def limit(self, managed_active: int) -> int:
        if self.count is not None:
            return self.count
        return int(managed_active * (self.percent or 0.0) / 100)

    def __str__(self) -> str:
        return f"{self.count}" if self.count is not None else f"{self.percent:g}%"


@dataclass(frozen=True)
class GuardOptions:
    max_disable: MaxDisable
    force: bool = False
    max_disable_from_cli: bool = False


def without_disables_on_first_run(plan: Plan, known_is_empty: bool) -> Plan:
    """The first run against an empty state store disables no one (it knows no one yet; this
    also holds if a bug or a stray key made a disable appear)."""
    if not known_is_empty:
        return plan
    return replace(plan, changes=tuple(c for c in plan.changes if c.action is not Action.DISABLE))


def check_disable_limit(plan: Plan, options: GuardOptions) -> None:
    """More disables than ``max_disable`` → ``SafetyStop`` (exit 3) with the numbers and how to
    override, unless ``--force``."""
    if options.force:
        return
    disables = len(plan.of(Action.DISABLE))
    limit = options.max_disable.limit(plan.managed_active)
    if disables <= limit:
        return
    rule = (f"max_disable = {options.max_disable}"
            + (f" of {plan.managed_active} active managed users = {limit}"
               if options.max_disable.percent is not None else ""))
    source = "--max-disable" if options.max_disable_from_cli else "[safety] max_disable"
    raise SafetyStop(
        f"refusing to disable {disables} users: more than {rule} ({source}). Nothing was sent.",
        hint=(f"Check that every source is complete (a truncated export looks like people "
              f"leaving). If these disables are intended, run again with --max-disable "
              f"{disables} or --force."),
    )
