"""One contract for every state store: the memory fake, SQLite (a file) and PostgreSQL.

Tests that only make sense for a real database (raw contents, atomicity under a failing
statement, schema versions, file permissions) skip the memory store by name."""

from __future__ import annotations

import os
import socket
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import Engine, create_engine, event, select, text, update

from sync.errors import LockHeld, SyncError
from sync.model import ACTIVE, KEY, SOURCE, USER_ID, Action, Change, Outcome, Status
from sync.state import schema
from sync.state.lock import LockHolder
from sync.state.memory_store import MemoryStateStore
from sync.state.sql_store import SqlStateStore

HOST = socket.gethostname()


@dataclass
class Kit:
    """One kind of store under test. ``open()`` gives a handle on the same state (a new
    instance for SQL stores, the same object for memory)."""

    kind: str
    url: str | None
    _open: Callable[[], object]
    opened: list = field(default_factory=list)

    def open(self):
        store = self._open()
        self.opened.append(store)
        return store

    @property
    def is_sql(self) -> bool:
        return self.url is not None

    def raw_engine(self) -> Engine:
        return create_engine(self.url)

    def raw_text(self) -> str:
        """Everything the store holds, as text (to look for secrets)."""
        if not self.is_sql:
            return repr([vars(s) for s in self.opened])
        engine = self.raw_engine()
        with engine.connect() as conn:
            dump = [
                repr(conn.execute(select(t)).all()) for t in schema.metadata.sorted_tables
            ]
        engine.dispose()
        return "\n".join(dump)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def kit(request, tmp_path) -> Iterator[Kit]:
    if request.param == "memory":
        memory = MemoryStateStore()
        made = Kit("memory", None, lambda: memory)
    elif request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'state.db'}"
        made = Kit("sqlite", url, lambda: SqlStateStore(url))
    else:
        url = request.getfixturevalue("postgres_url")
        made = Kit("postgres", url, lambda: SqlStateStore(url))
    yield made
    for store in made.opened:
        store.close()


@pytest.fixture
def store(kit: Kit):
    return kit.open()


def sql_only(kit: Kit) -> None:
    if not kit.is_sql:
        pytest.skip("about the database itself; the memory store has none")


def item(action, key, *, fields=None, source="sis", user_id=None, status=Status.APPLIED):
    change = Change(action=action, key=key, source=source, fields=fields or {})
    return change, Outcome(action=action, key=key, status=status, chamilo_user_id=user_id)


ANN = {"firstname": "Ann", "lastname": "Lee", "email": "ann@x.org", "extra.dept": "Math"}


def create(store, key="P1", fields=ANN, user_id=11, source="sis") -> None:
    store.record([item(Action.CREATE, key, fields=fields, user_id=user_id, source=source)])


def row(store, key="P1") -> dict:
    return store.known().loc[key].to_dict()


def test_empty_store_gives_an_empty_known_frame_with_the_meta_columns(store):
    known = store.known()
    assert known.empty
    assert known.index.name == KEY
    assert list(known.columns) == [USER_ID, SOURCE, ACTIVE]
    assert known[USER_ID].dtype == "Int64"
    assert known[ACTIVE].dtype == bool


def test_created_user_is_known_with_values_user_id_source_and_active(kit, store):
    create(store)
    known = kit.open().known()
    assert known.index.tolist() == ["P1"]
    assert known.index.name == KEY
    assert known.loc["P1"].to_dict() == {**ANN, USER_ID: 11, SOURCE: "sis", ACTIVE: True}
    assert known[USER_ID].dtype == "Int64"
    assert known[SOURCE].dtype == object
    assert known[ACTIVE].dtype == bool


def test_known_frame_has_every_field_of_any_row_and_none_where_missing(store):
    create(store, "P1", {"firstname": "Ann", "extra.dept": "Math"}, user_id=None, source=None)
    create(store, "P2", {"firstname": "Bob", "phone": "123"}, user_id=12)
    known = store.known()
    assert list(known.columns) == ["firstname", "phone", "extra.dept", USER_ID, SOURCE, ACTIVE]
    assert known.loc["P1", "phone"] is None
    assert known.loc["P2", "extra.dept"] is None
    assert known.loc["P1", USER_ID] is pd.NA
    assert known.loc["P1", SOURCE] is None


def test_update_merges_fields_into_the_last_pushed_values(store):
    create(store)
    store.record([item(Action.UPDATE, "P1", fields={"email": "new@x.org"})])
    assert row(store) == {**ANN, "email": "new@x.org", USER_ID: 11, SOURCE: "sis", ACTIVE: True}


def test_update_from_another_source_takes_ownership_and_none_keeps_it(store):
    create(store)
    store.record([item(Action.UPDATE, "P1", fields={"email": "a@x.org"}, source=None)])
    assert row(store)[SOURCE] == "sis"
    store.record([item(Action.UPDATE, "P1", fields={"email": "b@x.org"}, source="staff")])
    assert row(store)[SOURCE] == "staff"


def test_update_sets_the_user_id_only_when_the_outcome_gives_one(store):
    create(store, user_id=None)
    store.record([item(Action.UPDATE, "P1", fields={"email": "a@x.org"}, user_id=42)])
    assert row(store)[USER_ID] == 42
    store.record([item(Action.UPDATE, "P1", fields={"email": "b@x.org"})])
    assert row(store)[USER_ID] == 42


def test_disable_clears_active_and_enable_sets_it_and_merges_fields(store):
    create(store)
    store.record([item(Action.DISABLE, "P1")])
    assert row(store)[ACTIVE] is False
    assert row(store)["email"] == "ann@x.org"
    store.record([item(Action.ENABLE, "P1", fields={"lastname": "Lee-Smith"})])
    assert row(store)[ACTIVE] is True
    assert row(store)["lastname"] == "Lee-Smith"
    assert row(store)["firstname"] == "Ann"


def test_create_and_adopt_replace_the_whole_row(store):
    create(store)
    store.record([item(Action.DISABLE, "P1")])
    store.record([item(Action.ADOPT, "P1", fields={"firstname": "Ann"}, user_id=99, source=None)])
    assert row(store) == {"firstname": "Ann", USER_ID: 99, SOURCE: None, ACTIVE: True}


def test_adopt_then_update_in_one_batch_applies_both_in_order(store):
    store.record([
        item(Action.ADOPT, "P1", fields=ANN, user_id=7),
        item(Action.UPDATE, "P1", fields={"email": "b@x.org"}),
    ])
    assert row(store) == {**ANN, "email": "b@x.org", USER_ID: 7, SOURCE: "sis", ACTIVE: True}


def test_failed_and_unknown_outcomes_change_nothing(store):
    create(store)
    before = store.known()
    store.record([
        item(Action.CREATE, "P2", fields=ANN, user_id=5, status=Status.FAILED),
        item(Action.UPDATE, "P1", fields={"email": "x@x.org"}, status=Status.UNKNOWN),
        item(Action.DISABLE, "P1", status=Status.FAILED),
    ])
    pd.testing.assert_frame_equal(store.known(), before)


def test_an_outcome_for_another_key_is_refused_and_changes_nothing(store):
    change, _ = item(Action.CREATE, "P1", fields=ANN)
    _, outcome = item(Action.CREATE, "P2")
    with pytest.raises(ValueError, match="P2"):
        store.record([(change, outcome)])
    assert store.known().empty


def test_a_password_field_is_never_stored(kit, store):
    secret = "Sup3r-S3cret!"
    fields = {**ANN, "password": secret, "extra.password": secret}
    create(store, fields=fields)
    store.record([item(Action.UPDATE, "P1", fields={"password": secret, "email": "b@x.org"})])
    known = store.known()
    assert "password" not in known.columns
    assert "extra.password" not in known.columns
    assert known.loc["P1", "email"] == "b@x.org"
    raw = kit.raw_text()
    assert "b@x.org" in raw and "Math" in raw  # the dump does hold the values
    assert secret not in raw
    assert "password" not in raw


def _poison(kit: Kit) -> None:
    """Make the database refuse any insert of key POISON (a real failing statement)."""
    engine = kit.raw_engine()
    with engine.begin() as conn:
        if kit.kind == "sqlite":
            conn.execute(text(
                "CREATE TRIGGER poison BEFORE INSERT ON users WHEN NEW.key = 'POISON' "
                "BEGIN SELECT RAISE(ABORT, 'poisoned row'); END"))
        else:
            conn.execute(text(
                "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "IF NEW.key = 'POISON' THEN RAISE EXCEPTION 'poisoned row'; END IF; "
                "RETURN NEW; END $$"))
            conn.execute(text(
                "CREATE TRIGGER poison BEFORE INSERT ON users FOR EACH ROW "
                "EXECUTE FUNCTION poison()"))
    engine.dispose()


def test_record_is_atomic_when_one_statement_fails(kit, store):
    sql_only(kit)
    create(store)
    _poison(kit)
    entry = store.journal_open(1, Action.CREATE, ["P1", "P2", "POISON"])
    batch = [
        item(Action.UPDATE, "P1", fields={"email": "changed@x.org"}),
        item(Action.CREATE, "P2", fields=ANN, user_id=12),
        item(Action.CREATE, "POISON", fields=ANN, user_id=13),
    ]
    with pytest.raises(SyncError, match="poisoned row") as caught:
        store.record(batch, journal_id=entry)
    assert kit.url.split("@")[-1] in str(caught.value)
    known = store.known()
    assert known.index.tolist() == ["P1"]
    assert known.loc["P1", "email"] == "ann@x.org"
    assert [e.id for e in store.journal_pending()] == [entry]


def test_runs_are_listed_newest_first_with_counts_and_exit_code(kit, store):
    first = store.start_run("apply")
    store.finish_run(first, {"create": 2, "update": 1}, 0)
    second = store.start_run("plan")
    history = kit.open().history(10)
    assert [r.run_id for r in history] == [second, first]
    latest, earlier = history
    assert (latest.mode, latest.finished_at, dict(latest.counts), latest.exit_code) == (
        "plan", None, {}, None)
    assert (earlier.mode, dict(earlier.counts), earlier.exit_code) == (
        "apply", {"create": 2, "update": 1}, 0)
    assert earlier.started_at.tzinfo is not None
    assert earlier.started_at <= earlier.finished_at <= datetime.now(UTC)
    assert [r.run_id for r in store.history(1)] == [second]


def test_finishing_an_unknown_run_is_an_error(store):
    with pytest.raises(SyncError, match="no run 999"):
        store.finish_run(999, {}, 0)


def test_schema_version_is_recorded(kit, store):
    sql_only(kit)
    store.known()
    engine = kit.raw_engine()
    with engine.connect() as conn:
        version = conn.execute(
            select(schema.meta.c.value).where(schema.meta.c.name == "schema_version")
        ).scalar()
    engine.dispose()
    assert version == str(schema.SCHEMA_VERSION) == "1"


def test_a_store_written_by_a_newer_version_is_refused(kit, store):
    sql_only(kit)
    store.known()
    engine = kit.raw_engine()
    with engine.begin() as conn:
        conn.execute(update(schema.meta).values(value=str(schema.SCHEMA_VERSION + 1)))
    engine.dispose()
    with pytest.raises(SyncError, match="upgrade chamilo-sync") as caught:
        kit.open().known()
    assert "schema version 2" in str(caught.value)


def test_lock_held_by_a_live_process_is_refused_naming_the_holder(kit, store):
    old = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)  # old, but its process is alive
    store.acquire_lock(LockHolder(HOST, os.getpid(), old))
    with pytest.raises(LockHeld) as caught:
        kit.open().acquire_lock(LockHolder.this_process())
    message = str(caught.value)
    assert f"host {HOST}" in message
    assert f"pid {os.getpid()}" in message
    assert "2024-01-02T03:04:05+00:00" in message
    assert caught.value.exit_code == 2


@pytest.fixture
def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    with pytest.raises(ProcessLookupError):
        os.kill(child.pid, 0)
    return child.pid


def test_lock_of_a_dead_process_on_this_host_is_taken_over(kit, store, dead_pid, caplog):
    store.acquire_lock(LockHolder(HOST, dead_pid, datetime.now(UTC)))
    taker = kit.open()
    with caplog.at_level("WARNING"):
        taker.acquire_lock(LockHolder.this_process())
    assert f"process {dead_pid}" in caplog.text
    with pytest.raises(LockHeld, match=f"pid {os.getpid()}"):
        kit.open().acquire_lock(LockHolder(HOST, dead_pid, datetime.now(UTC)))


def test_lock_from_another_host_is_kept_until_it_is_stale(kit, store):
    fresh = datetime.now(UTC) - timedelta(hours=1)
    store.acquire_lock(LockHolder("elsewhere", 1, fresh))
    with pytest.raises(LockHeld, match="host elsewhere"):
        kit.open().acquire_lock(LockHolder.this_process())
    store.release_lock()
    store.acquire_lock(LockHolder("elsewhere", 1, datetime.now(UTC) - timedelta(days=2)))
    kit.open().acquire_lock(LockHolder.this_process())  # taken over, no error


def test_a_released_lock_can_be_taken_again(kit, store):
    store.acquire_lock(LockHolder.this_process())
    store.release_lock()
    other = kit.open()
    other.acquire_lock(LockHolder.this_process())
    with pytest.raises(LockHeld):
        store.acquire_lock(LockHolder.this_process())


def test_journal_entries_are_pending_until_closed(kit, store):
    run = store.start_run("apply")
    first = store.journal_open(run, Action.CREATE, ["P1", "P2"])
    second = store.journal_open(run, "disable", ["P3"])
    pending = kit.open().journal_pending()
    assert [(e.id, e.run_id, e.action, e.keys) for e in pending] == [
        (first, run, Action.CREATE, ("P1", "P2")), (second, run, Action.DISABLE, ("P3",))]
    assert pending[0].sent_at.tzinfo is not None
    store.journal_close(first)
    assert [e.id for e in store.journal_pending()] == [second]


def test_recording_a_batch_closes_its_journal_entry_in_the_same_call(store):
    entry = store.journal_open(1, Action.CREATE, ["P1"])
    other = store.journal_open(1, Action.CREATE, ["P2"])
    store.record([item(Action.CREATE, "P1", fields=ANN, user_id=3)], journal_id=entry)
    assert [e.id for e in store.journal_pending()] == [other]
    assert store.known().index.tolist() == ["P1"]


class _Statements:
    def __init__(self, url: str) -> None:
        self.url, self.seen = url, []

    def __call__(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if conn.engine.url.render_as_string(hide_password=False) == self.url:
            self.seen.append(statement)


def test_known_on_twenty_thousand_users_is_one_query(kit, store):
    for start in range(0, 20_000, 1000):
        store.record([
            item(Action.CREATE, f"K{n:05d}",
                 fields={"firstname": f"F{n}", "email": f"u{n}@x.org", "extra.dept": "D"},
                 user_id=n, source=None if n % 2 else "sis")
            for n in range(start, start + 1000)
        ])
    statements = _Statements(kit.url or "")
    event.listen(Engine, "before_cursor_execute", statements)
    try:
        known = store.known()
    finally:
        event.remove(Engine, "before_cursor_execute", statements)
    if kit.is_sql:
        assert [s for s in statements.seen if "users" in s.lower()] == [statements.seen[-1]]
        assert sum(s.lstrip().upper().startswith("SELECT") for s in statements.seen) == 1
    assert known.shape == (20_000, 6)
    assert list(known.columns) == ["firstname", "email", "extra.dept", USER_ID, SOURCE, ACTIVE]
    assert known.loc["K12345"].to_dict() == {
        "firstname": "F12345", "email": "u12345@x.org", "extra.dept": "D",
        USER_ID: 12345, SOURCE: None, ACTIVE: True}
    assert known[SOURCE].isna().sum() == 10_000


# SQL-only facts that are not about the state itself -------------------------------------


def test_a_new_sqlite_state_file_is_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "state.db"
    old_umask = os.umask(0)  # even a permissive umask must not widen it
    try:
        store = SqlStateStore(f"sqlite:///{path}")
        create(store)
        wal_modes = {stat.S_IMODE(p.stat().st_mode) for p in tmp_path.glob("state.db-*")}
        store.close()
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert wal_modes == {0o600}  # -wal and -shm, made by SQLite after the main file's mode
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_an_unreachable_database_is_a_sync_error_naming_the_url_without_password():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed when we use it: connection refused
    store = SqlStateStore(f"postgresql+psycopg://sync:s3cret-pw@127.0.0.1:{port}/state")
    with pytest.raises(SyncError) as caught:
        store.known()
    message = str(caught.value)
    assert f"postgresql+psycopg://sync:***@127.0.0.1:{port}/state" in message
    assert "s3cret-pw" not in message
    assert caught.value.exit_code == 2
    store.close()


def test_a_sqlite_file_in_a_missing_folder_is_a_sync_error(tmp_path):
    url = f"sqlite:///{tmp_path / 'nowhere' / 'state.db'}"
    with pytest.raises(SyncError, match="cannot create"):
        SqlStateStore(url).known()


@pytest.mark.parametrize("url", ["not a url", "nosuchdb://sync:s3cret-pw@db/state"])
def test_a_bad_url_is_a_sync_error_without_password(url):
    with pytest.raises(SyncError) as caught:
        SqlStateStore(url)
    assert "s3cret-pw" not in str(caught.value)
    assert url.split("@")[-1] in str(caught.value)
