"""Crash points for the crash-safety tests: ``CHAMILO_SYNC_FAILPOINT=<point>[:<n>]`` kills the
process with SIGKILL the n-th time (default 1st) the named point is reached. Unset (always, in
production) it does nothing.

Points: ``before-batch`` (journal written, nothing sent), ``after-answer`` (Chamilo answered,
outcomes not yet recorded), ``after-record`` (batch recorded).
"""

from __future__ import annotations

import os
import signal
import threading

_lock = threading.Lock()
_hits: dict[str, int] = {}


def _target() -> tuple[str, int] | None:
    raw = os.environ.get("CHAMILO_SYNC_FAILPOINT", "")
    if not raw:
        return None
    name, _, count = raw.partition(":")
    return name, int(count or 1)


def reach(point: str) -> None:
    target = _target()
    if target is None or target[0] != point:
        return
    with _lock:
        _hits[point] = _hits.get(point, 0) + 1
        if _hits[point] == target[1]:
            os.kill(os.getpid(), signal.SIGKILL)
