"""Safety guards (SPEC §7): refuse the dangerous case by name, before anything is sent."""

from __future__ import annotations

from dataclasses import dataclass, replace

from sync.config import MaxDisable
from sync.errors import SafetyStop
from sync.model import Action, Plan


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
