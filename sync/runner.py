"""The imperative shell: read → map → diff → guard → plan → apply → record.

``plan`` and ``apply`` share everything up to the plan; nothing on the plan path writes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from sync.desired import Combined, combine
from sync.diff import DiffOptions, plan_changes
from sync.errors import ConfigError, SafetyStop
from sync.executor import ExecOptions, Executor
from sync.guards import GuardOptions, MaxDisable, check_disable_limit, without_disables_on_first_run
from sync.mapping import map_source
from sync.mapping_spec import MappingSpec
from sync.model import SOURCE, Mode, Plan, SourceSummary
from sync.outcomes import Interpreter
from sync.ports import Source
from sync.report import RunResult, now
from sync.settle import Settlement, settle_journal

if TYPE_CHECKING:  # the composition root hands itself in; the runner never builds adapters
    from sync.bootstrap import App

log = logging.getLogger(__name__)

ReportWriter = Callable[[RunResult], None]


@dataclass(frozen=True)
class SourceBinding:
    """A source adapter with its mapping, as built by the composition root."""

    name: str
    kind: str
    spec: MappingSpec
    source: Source


@dataclass(frozen=True)
class Desired:
    combined: Combined
    summaries: tuple[SourceSummary, ...]


def read_desired(bindings: Sequence[SourceBinding]) -> Desired:
    mapped = []
    for b in bindings:
        m = map_source(b.spec, b.source.read())  # checks a CSV's columns against the spec
        log.info("source %s: %d rows read, %d rejected", b.name, m.rows, len(m.rejected))
        mapped.append(m)
    combined = combine(mapped)
    summaries = tuple(
        SourceSummary(m.name, m.rows, sum(1 for r in combined.rejected if r.source == m.name))
        for m in mapped
    )
    return Desired(combined, summaries)


def make_plan(desired: Desired, known: pd.DataFrame, options: DiffOptions) -> Plan:
    c = desired.combined
    plan = plan_changes(c.desired, known, c.present_keys, options, c.rejected, desired.summaries)
    return without_disables_on_first_run(plan, known.empty)


def run_plan(app: App, names: Sequence[str]) -> RunResult:
    started = now()
    bindings = app.bindings(names)
    desired = read_desired(bindings)
    store = app.read_only_store()
    plan = make_plan(desired, store.known(), _diff_options(app, names))
    notes: tuple[str, ...] = ()
    try:
        check_disable_limit(plan, GuardOptions(app.settings.safety.max_disable))
    except SafetyStop as stop:
        notes = (f"Warning: apply would refuse this run: {stop} {stop.hint}",)
        log.warning("apply would refuse this plan: %s", stop)
    return RunResult(Mode.PLAN.value, plan, started, now(), notes=notes)


def _diff_options(app: App, names: Sequence[str]) -> DiffOptions:
    scope = frozenset(names) if names else frozenset(app.settings.source_names())
    return DiffOptions(scope=scope, on_missing=app.settings.safety.on_missing)


def run_apply(app: App, names: Sequence[str], *, max_disable: MaxDisable | None = None,
              force: bool = False, on_refused: ReportWriter | None = None,
              on_batch=None, executor_hook=None) -> RunResult:
    """The nightly job. ``on_refused`` receives the report of a run a guard refused (it lists
    what would have been disabled) before ``SafetyStop`` propagates."""
    bindings = app.bindings(names)
    guard = GuardOptions(max_disable or app.settings.safety.max_disable, force,
                         max_disable is not None)
    return _locked_run(app, Mode.APPLY, lambda: read_desired(bindings),
                       _diff_options(app, names), guard, on_refused, on_batch, executor_hook)


def run_import(app: App, csv_path: Path, mapping_path: Path, *, dry_run: bool = False,
               on_batch=None) -> RunResult:
    """One-off import: create, update, enable; never disables; imported users belong to no
    source, so ``apply`` never disables them."""
    binding = app.import_binding(csv_path, mapping_path)
    options = DiffOptions(scope=frozenset(), on_missing="keep", import_mode=True)
    if dry_run:
        started = now()
        desired = read_desired([binding])
        plan = make_plan(desired, app.read_only_store().known(), options)
        return RunResult(Mode.IMPORT_DRY_RUN.value, plan, started, now())
    guard = GuardOptions(MaxDisable(count=0), force=False)
    return _locked_run(app, Mode.IMPORT, lambda: read_desired([binding]), options, guard,
                       None, on_batch, None)


def _journal_owners(app: App, mode: Mode, desired: Desired) -> dict:
    """Who owns an account the journal shows an interrupted run created (``sync.settle``):
    the desired source (nobody for ``import``); for a key in no source any more, the only
    configured source of an ``apply``."""
    frame = desired.combined.desired
    sources = frame[SOURCE] if mode is Mode.APPLY and SOURCE in frame.columns else None
    owners = {str(k).casefold(): None if sources is None or pd.isna(sources[k]) else str(sources[k])
              for k in frame.index}
    configured = app.settings.source_names()
    fallback = configured[0] if mode is Mode.APPLY and len(configured) == 1 else None
    return {"owners": owners, "fallback_owner": fallback}


def _locked_run(app: App, mode: Mode, read: Callable[[], Desired], options: DiffOptions,
                guard: GuardOptions, on_refused: ReportWriter | None, on_batch,
                executor_hook) -> RunResult:
    store = app.store()
    store.acquire_lock(app.lock_holder())
    run_id = None
    try:
        run_id = store.start_run(mode.value)
        started = now()
        desired = read()
        if app.settings.chamilo is None:
            raise ConfigError([f"{app.settings.path}: chamilo: the [chamilo] section is required "
                               f"for {mode.value}"])
        pending = store.journal_pending()
        client = app.chamilo() if pending else None
        settled = Settlement()
        if pending:
            client.check()
            settled = settle_journal(store, client, pending, **_journal_owners(app, mode, desired))
        known = store.known()
        plan = make_plan(desired, known, options)
        try:
            check_disable_limit(plan, guard)
        except SafetyStop:
            if on_refused is not None:
                on_refused(RunResult(mode.value, plan, started, now()))
            store.finish_run(run_id, plan.counts(), 3)
            run_id = None
            raise
        outcomes: list = []
        notes: tuple[str, ...] = ()
        if plan.changes:
            client = client or app.chamilo()
            client.check()  # loads the WSDL and proves the key before the first write
            c = app.settings.chamilo
            executor = Executor(client, store, run_id, Interpreter(client, known),
                                desired.combined.passwords,
                                ExecOptions(c.batch_size, c.concurrency,
                                            alone=settled.not_found), on_batch)
            if executor_hook is not None:
                executor_hook(executor)
            try:
                outcomes = executor.execute(plan)
            except BaseException:
                store.finish_run(run_id, {**plan.counts(), "applied": len(executor.outcomes)}, 1)
                run_id = None
                raise
            if executor.stopping:
                notes = (f"Stopped by a signal: {len(plan.changes) - len(outcomes)} planned "
                         "changes were not sent; the next run sends them.",)
        result = RunResult(mode.value, plan, started, now(), tuple(outcomes), applied=True,
                           notes=notes, stopped=bool(notes))
        counts = {**plan.counts(), **result.outcome_counts()}
        store.finish_run(run_id, counts, result.exit_code())
        run_id = None
        return result
    except BaseException as exc:
        if run_id is not None:
            store.finish_run(run_id, {}, getattr(exc, "exit_code", 1))
        raise
    finally:
        store.release_lock()
