"""The run lock: who holds the state store, and when a lock may be taken over.

Two runs on the same state store never overlap (SPEC §7). A run takes the lock before its
first write and releases it at the end; the lock row names the holder's host, pid and start
time, and a refused run says exactly that.

Takeover rule (the only way a lock changes hands without being released):

* **Same host** (the holder's ``host`` equals this machine's host name): the lock is taken
  over as soon as the holder's process is gone (``os.kill(pid, 0)`` raises
  ``ProcessLookupError``). A live process holds the lock however old it is.
* **Another host**: its processes cannot be probed, so the lock is taken over only when it
  is older than :data:`STALE_AFTER` (24 hours: longer than any sane run, short enough for a
  daily schedule to recover by itself after a crashed machine).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sync.errors import LockHeld

#: A lock from another host older than this is considered abandoned.
STALE_AFTER = timedelta(hours=24)


@dataclass(frozen=True)
class LockHolder:
    """The run holding (or asking for) the lock: its machine, process id and start time
    (timezone-aware UTC)."""

    host: str
    pid: int
    started_at: datetime

    @classmethod
    def this_process(cls) -> LockHolder:
        """A holder describing the calling process, started now."""
        return cls(host=socket.gethostname(), pid=os.getpid(), started_at=datetime.now(UTC))

    def describe(self) -> str:
        started = self.started_at.astimezone(UTC).isoformat(timespec="seconds")
        return f"host {self.host}, pid {self.pid}, started {started}"


def process_is_alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine (a process of another user
    counts as alive)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def takeover_reason(
    holder: LockHolder,
    *,
    host: str | None = None,
    now: datetime | None = None,
    stale_after: timedelta = STALE_AFTER,
) -> str | None:
    """Why the lock held by ``holder`` may be taken over, or ``None`` if it may not (see the
    module docstring). ``host`` and ``now`` default to this machine and the current time."""
    host = socket.gethostname() if host is None else host
    now = datetime.now(UTC) if now is None else now
    if holder.host == host:
        if process_is_alive(holder.pid):
            return None
        return f"process {holder.pid} on this host ({host}) is gone"
    age = now - holder.started_at
    if age > stale_after:
        return f"it was taken on another host more than {_hours(stale_after)} ago"
    return None


def lock_held(holder: LockHolder, where: str, stale_after: timedelta = STALE_AFTER) -> LockHeld:
    """The error for a refused lock, naming the holder and the state store."""
    return LockHeld(
        f"state store {where} is in use by another run ({holder.describe()})",
        hint=(
            "wait for that run to finish; a lock whose process is gone is taken over "
            "automatically on the same host, and after "
            f"{_hours(stale_after)} from another host"
        ),
    )


def _hours(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:g} hours"
