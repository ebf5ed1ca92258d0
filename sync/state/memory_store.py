"""A state store in memory: the fake for fast tests, obeying the same contract tests as
:class:`sync.state.sql_store.SqlStateStore`. Nothing survives the object; the lock only
guards this one instance (its takeover rule is the real one)."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pandas as pd

from sync.errors import SyncError
from sync.model import Action, Change, Outcome, RunRecord
from sync.state.journal import JournalEntry
from sync.state.lock import STALE_AFTER, LockHolder, lock_held, takeover_reason
from sync.state.users import UserRow, apply_batch, known_frame

log = logging.getLogger(__name__)

WHERE = "memory://"


class MemoryStateStore:
    """``StateStore`` in memory, with the lock and journal of the SQL store."""

    def __init__(self, *, stale_after: timedelta = STALE_AFTER) -> None:
        self._users: dict[str, UserRow] = {}
        self._runs: dict[int, RunRecord] = {}
        self._journal: dict[int, JournalEntry] = {}
        self._run_ids = itertools.count(1)
        self._journal_ids = itertools.count(1)
        self._lock: tuple[LockHolder, object] | None = None
        self._my_token: object | None = None
        self._stale_after = stale_after
        self.location = WHERE

    # users ------------------------------------------------------------------------------

    def known(self) -> pd.DataFrame:
        rows = list(self._users.values())
        return known_frame(
            [r.key for r in rows],
            (dict(r.values) for r in rows),
            [r.chamilo_user_id for r in rows],
            [r.source for r in rows],
            [r.active for r in rows],
        )

    def record(
        self, batch: Sequence[tuple[Change, Outcome]], journal_id: int | None = None
    ) -> None:
        changed = apply_batch(self._users, batch, _now())
        self._users.update(changed)
        if journal_id is not None:
            self._journal.pop(journal_id, None)

    # runs -------------------------------------------------------------------------------

    def start_run(self, mode: str) -> int:
        run_id = next(self._run_ids)
        self._runs[run_id] = RunRecord(
            run_id=run_id,
            mode=str(mode),
            started_at=_now(),
            finished_at=None,
            counts={},
            exit_code=None,
        )
        return run_id

    def finish_run(self, run_id: int, counts: Mapping[str, int], exit_code: int) -> None:
        if run_id not in self._runs:
            raise SyncError(f"state store {self.location} has no run {run_id} to finish")
        self._runs[run_id] = replace(
            self._runs[run_id],
            finished_at=_now(),
            counts={str(k): int(v) for k, v in counts.items()},
            exit_code=int(exit_code),
        )

    def history(self, limit: int) -> list[RunRecord]:
        newest_first = sorted(self._runs.values(), key=lambda r: r.run_id, reverse=True)
        return newest_first[: max(limit, 0)]

    # lock -------------------------------------------------------------------------------

    def acquire_lock(self, holder: LockHolder) -> None:
        token = object()
        if self._lock is not None:
            current = self._lock[0]
            reason = takeover_reason(current, stale_after=self._stale_after)
            if reason is None:
                raise lock_held(current, self.location, self._stale_after)
            log.warning(
                "state store %s: took over the lock of %s: %s",
                self.location, current.describe(), reason,
            )
        self._lock = (holder, token)
        self._my_token = token

    def release_lock(self) -> None:
        if self._my_token is None:
            return
        if self._lock is not None and self._lock[1] is self._my_token:
            self._lock = None
        else:
            log.warning("state store %s: our lock was taken over before release", self.location)
        self._my_token = None

    # journal ----------------------------------------------------------------------------

    def journal_open(self, run_id: int, action: Action | str, keys: Sequence[str]) -> int:
        entry_id = next(self._journal_ids)
        self._journal[entry_id] = JournalEntry(
            id=entry_id,
            run_id=run_id,
            action=Action(action),
            keys=tuple(str(k) for k in keys),
            sent_at=_now(),
        )
        return entry_id

    def journal_close(self, batch_id: int) -> None:
        self._journal.pop(batch_id, None)

    def journal_pending(self) -> list[JournalEntry]:
        return [self._journal[i] for i in sorted(self._journal)]

    def close(self) -> None:
        pass


def _now() -> datetime:
    return datetime.now(UTC)
