"""The administrator's other commands: ``adopt``, ``check`` and ``history``."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from sync.errors import ChamiloError, KeyRefused, SyncError, TransientError
from sync.mapping_spec import check_columns
from sync.model import ACTIVE, Action, Change, Mode, Outcome, Status
from sync.report import RunResult, now
from sync.runner import make_plan, read_desired, _diff_options

if TYPE_CHECKING:
    from sync.bootstrap import App

log = logging.getLogger(__name__)


def run_adopt(app: App, names: Sequence[str]) -> RunResult:
    """Look every desired user the state store does not know up in Chamilo (WSGetUser) and
    record the accounts that exist, so the first apply edits them instead of failing to
    create. Records no pushed values: the next plan updates every mapped field."""
    bindings = app.bindings(names)
    store = app.store()
    store.acquire_lock(app.lock_holder())
    try:
        run_id = store.start_run(Mode.ADOPT.value)
        started = now()
        desired = read_desired(bindings)
        known = store.known()
        plan = make_plan(desired, known, _diff_options(app, names))
        frame = desired.combined.desired
        wanted = [str(k) for k in frame.index[frame[ACTIVE].astype(bool)] if k not in known.index]
        client = app.chamilo()
        client.check()
        c = app.settings.chamilo

        def look(key: str) -> Outcome:
            try:
                found = client.get_user(key)
            except KeyRefused:
                raise
            except (TransientError, ChamiloError) as exc:
                return Outcome(Action.ADOPT, key, Status.UNKNOWN, message=str(exc))
            if found is None:
                return Outcome(Action.ADOPT, key, Status.APPLIED,
                               message="no Chamilo account yet: apply will create it")
            return Outcome(Action.ADOPT, key, Status.APPLIED, found.user_id,
                           f"adopted Chamilo user {found.user_id}")

        with ThreadPoolExecutor(max_workers=max(1, c.concurrency)) as pool:
            outcomes = list(pool.map(look, wanted))
        sources = frame[frame.columns.intersection(["_source"])]
        pairs = [(Change(Action.ADOPT, o.key, _owner(sources, o.key)), o)
                 for o in outcomes if o.chamilo_user_id is not None]
        for i in range(0, len(pairs), c.batch_size):
            store.record(pairs[i:i + c.batch_size])
        result = RunResult(Mode.ADOPT.value, plan, started, now(), tuple(outcomes), applied=True)
        store.finish_run(run_id, {"adopted": len(pairs), **result.outcome_counts()},
                         result.exit_code())
        return result
    finally:
        store.release_lock()


def _owner(sources, key: str):
    if "_source" not in sources.columns:
        return None
    value = sources.at[key, "_source"]
    return None if value is None else str(value)


def run_check(app: App, say) -> int:
    """Validate config and mappings, read every source (LDAP: bind and count), open the state
    store, load the WSDL and prove the key. ``say`` prints one line per finding. Returns the
    exit code."""
    failures = 0
    bindings = app.bindings()
    say(f"config {app.settings.path}: ok ({len(bindings)} sources)")
    for b in bindings:
        try:
            if b.kind == "ldap":
                say(f"source {b.name}: ok, {b.source.count()} entries")
            else:
                data = b.source.read()
                check_columns(b.spec, list(data.frame.columns), data.origin)
                say(f"source {b.name}: ok, {len(data.frame)} rows; mapping {b.spec.path}: ok")
        except SyncError as exc:
            failures += 1
            say(f"source {b.name}: FAILED: {exc}")
    try:
        known = app.read_only_store().known()
        say(f"state {_safe_url(app.settings.state_url)}: ok, {len(known)} known users")
    except SyncError as exc:
        failures += 1
        say(f"state: FAILED: {exc}")
    try:
        app.chamilo().check()
        say(f"chamilo {app.settings.chamilo.url}: ok, WSDL loaded and the security key accepted")
    except SyncError as exc:
        failures += 1
        say(f"chamilo: FAILED: {exc}" + (f"\n  hint: {exc.hint}" if exc.hint else ""))
    return 2 if failures else 0


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unparsable URL)"
