"""The rule deciding when a run lock may be taken over (sync.state.lock)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from sync.state.lock import STALE_AFTER, LockHolder, lock_held, takeover_reason

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_live_process_on_this_host_keeps_the_lock_however_old():
    holder = LockHolder("here", os.getpid(), NOW - timedelta(days=30))
    assert takeover_reason(holder, host="here", now=NOW) is None


def test_a_dead_process_on_this_host_loses_the_lock_at_once():
    pid = _dead_pid()
    reason = takeover_reason(LockHolder("here", pid, NOW), host="here", now=NOW)
    assert reason is not None and str(pid) in reason


def test_another_hosts_lock_is_kept_until_the_stale_limit():
    young = LockHolder("there", os.getpid(), NOW - STALE_AFTER + timedelta(minutes=1))
    old = LockHolder("there", os.getpid(), NOW - STALE_AFTER - timedelta(minutes=1))
    assert takeover_reason(young, host="here", now=NOW) is None
    assert "another host" in takeover_reason(old, host="here", now=NOW)


def test_the_stale_limit_can_be_chosen():
    holder = LockHolder("there", 1, NOW - timedelta(hours=2))
    assert takeover_reason(holder, host="here", now=NOW, stale_after=timedelta(hours=1))
    assert takeover_reason(holder, host="here", now=NOW, stale_after=timedelta(hours=3)) is None


def test_a_refusal_names_the_store_host_pid_and_start_time():
    error = lock_held(LockHolder("db1", 4242, NOW), "sqlite:///state.db")
    assert str(error) == (
        "state store sqlite:///state.db is in use by another run "
        "(host db1, pid 4242, started 2025-03-01T12:00:00+00:00)"
    )
    assert "24 hours" in error.hint
