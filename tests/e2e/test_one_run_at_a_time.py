"""Two runs on the same state store never overlap (SPEC §7 "Concurrency", §5).

A first `apply` is held inside its run by the stand-in (its key check hangs: it holds the
lock and has nothing in flight that could write later). Meanwhile a second `apply`, and the
run `schedule` starts, are refused with exit 2 (schedule logs it and keeps going), naming the
holder's host, pid and start time, and send nothing at all. Once the holder is `kill -9`ed,
the lock it leaves is taken over. A lock from another host is respected until it is stale.
"""

from __future__ import annotations

import socket
import sqlite3
from datetime import UTC, datetime, timedelta

from sync.state.lock import LockHolder
from sync.state.sql_store import SqlStateStore
from tests.support.cli_process import wait_until
from tests.support.convergence import Person, assert_converged, lock_row
from tests.support.sync_project import SAFETY, Project

SCHEDULE = '[schedule]\ncron = "0 3 * * *"\ntimezone = "UTC"\n'
PEOPLE = [Person(f"H{i}") for i in range(1, 4)]


def runs_recorded(state_db) -> int:
    db = sqlite3.connect(f"file:{state_db}?mode=ro", uri=True)
    try:
        return db.execute("SELECT count(*) FROM runs").fetchone()[0]
    finally:
        db.close()


def test_runs_refused_while_another_holds_the_store_name_it_and_send_nothing(tmp_path, chamilo):
    project = Project(tmp_path, chamilo).write(PEOPLE, extra=SAFETY + SCHEDULE)
    chamilo.inject("WSGetUser", "hang", seconds=5)  # the holder's key check
    holder = project.start("apply")
    try:
        wait_until(lambda: chamilo.calls("WSGetUser"), "the first run to reach Chamilo")
        host, pid, started = lock_row(project.state_db)
        assert (host, pid) == (socket.gethostname(), holder.pid)
        named = (f"host {host}, pid {pid}, started "
                 f"{started.isoformat(timespec='seconds')}")
        calls = [c["id"] for c in chamilo.calls()]

        second = project.run("apply")
        assert second.code == 2, second.err
        assert "in use by another run" in second.err and named in second.err
        assert "Traceback" not in second.err

        scheduled = project.start("schedule", "--run-now", to_files=True)
        wait_until(lambda: "scheduled run stopped (exit 2)" in scheduled.err_so_far(),
                   "the scheduled run to be refused")
        stopped = scheduled.terminate()
        assert stopped.code == 0, stopped.err
        assert named in stopped.err

        # neither sent anything, not even the key check
        assert [c["id"] for c in chamilo.calls()] == calls
        assert runs_recorded(project.state_db) == 1
    finally:
        killed = holder.kill9()
    assert killed.code == -9
    assert lock_row(project.state_db)[1] == holder.pid  # a killed run cannot release it

    after = project.run("apply")
    assert after.code == 0, after.err
    assert f"took over the lock of host {host}, pid {holder.pid}" in after.err
    assert lock_row(project.state_db) is None
    assert_converged(chamilo, PEOPLE, state_db=project.state_db)
    wait_until(lambda: chamilo.calls("WSGetUser")[0]["items"] is not None,
               "the held key check to end (it must not outlive the test)")


def test_a_lock_from_another_host_is_respected_until_it_is_stale(tmp_path, chamilo):
    project = Project(tmp_path, chamilo).write(PEOPLE)
    store = SqlStateStore(f"sqlite:///{project.state_db}")
    now = datetime.now(UTC).replace(microsecond=0)
    try:
        store.acquire_lock(LockHolder("sis-server-2", 4242, now - timedelta(hours=2)))
    finally:
        store.close()  # the lock row stays: that "run" is still going on another machine
    refused = project.in_process("apply")
    assert refused.code == 2
    assert "host sis-server-2, pid 4242" in refused.err
    assert chamilo.calls() == [] and chamilo.users() == []

    db = sqlite3.connect(project.state_db)
    with db:
        db.execute("UPDATE lock SET started_at = ?",
                   ((now - timedelta(hours=25)).replace(tzinfo=None).isoformat(" "),))
    db.close()
    taken = project.in_process("apply")
    assert taken.code == 0, taken.err
    assert_converged(chamilo, PEOPLE, state_db=project.state_db)
