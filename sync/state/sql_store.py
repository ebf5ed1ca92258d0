"""The state store in any SQLAlchemy database: SQLite by default, PostgreSQL for big sites.

Bulk Core statements only (one SELECT for the known frame, ``executemany`` for a batch), one
transaction per public call, no ORM object outside this module. Every database problem is
a ``SyncError`` naming the URL (password masked) and the problem. Engine set-up (SQLite file
permissions, WAL, transactions) lives in ``sync.state.engine``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta

import pandas as pd
from sqlalchemy import Connection, bindparam, delete, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, SQLAlchemyError

from sync.errors import SyncError
from sync.model import Action, Change, Outcome, RunRecord
from sync.state.engine import (
    WRITE_OPTIONS,
    create_sqlite_file,
    describe_problem,
    make_engine,
    mask_url,
)
from sync.state.journal import JournalEntry, decode_keys, encode_payload
from sync.state.lock import STALE_AFTER, LockHolder, lock_held, takeover_reason
from sync.state.schema import ensure_schema, journal, lock, runs, users
from sync.state.users import UserRow, applied_keys, apply_batch, empty_known_frame, known_frame

log = logging.getLogger(__name__)

_IN_CHUNK = 500  # keys per IN (...) list, well under every driver's parameter limit


class SqlStateStore:
    """``StateStore`` over ``url`` (any SQLAlchemy URL). The schema is created or migrated
    on first use; ``acquire_lock``/``release_lock`` and the journal are described in
    ``sync.state.lock`` and ``sync.state.journal``."""

    def __init__(self, url: str, *, stale_after: timedelta = STALE_AFTER) -> None:
        self.location = mask_url(url)
        try:
            self._url = make_url(url)
        except ArgumentError as exc:
            raise SyncError(f"state store URL {self.location} is not valid: {exc}") from exc
        self._engine = make_engine(self._url, self.location)
        self._writer = self._engine.execution_options(**WRITE_OPTIONS)
        self._stale_after = stale_after
        self._schema_ready = False
        self._lock_token: str | None = None

    # users ------------------------------------------------------------------------------

    def known(self) -> pd.DataFrame:
        query = select(
            users.c.key, users.c.field_values, users.c.chamilo_user_id,
            users.c.source, users.c.active,
        )
        with self._reading("read the known users") as conn:
            rows = conn.execute(query).all()
        if not rows:
            return empty_known_frame()
        keys, texts, user_ids, sources, actives = zip(*rows)
        return known_frame(keys, map(json.loads, texts), user_ids, sources, actives)

    def record(
        self, batch: Sequence[tuple[Change, Outcome]], journal_id: int | None = None
    ) -> None:
        """``StateStore.record``; when ``journal_id`` is given, that journal entry is deleted
        in the same transaction."""
        keys = applied_keys(batch)
        now = _now()
        with self._writing("record a batch") as conn:
            current = _fetch_rows(conn, keys)
            changed = apply_batch(current, batch, now)
            updates = [_row_params(r, "b_") for k, r in changed.items() if k in current]
            inserts = [_row_params(r) for k, r in changed.items() if k not in current]
            if updates:
                conn.execute(_UPDATE_USER, updates)
            if inserts:
                conn.execute(users.insert(), inserts)
            if journal_id is not None:
                conn.execute(delete(journal).where(journal.c.id == journal_id))

    # runs -------------------------------------------------------------------------------

    def start_run(self, mode: str) -> int:
        with self._writing("start a run") as conn:
            result = conn.execute(
                runs.insert().values(
                    mode=str(mode), started_at=_now(), host=socket.gethostname(),
                    pid=os.getpid(),
                )
            )
            return int(result.inserted_primary_key[0])

    def finish_run(self, run_id: int, counts: Mapping[str, int], exit_code: int) -> None:
        payload = json.dumps({str(k): int(v) for k, v in counts.items()})
        with self._writing("finish a run") as conn:
            done = conn.execute(
                update(runs).where(runs.c.id == run_id)
                .values(finished_at=_now(), counts=payload, exit_code=int(exit_code))
            ).rowcount
        if done != 1:
            raise SyncError(f"state store {self.location} has no run {run_id} to finish")

    def history(self, limit: int) -> list[RunRecord]:
        query = select(runs).order_by(runs.c.id.desc()).limit(max(limit, 0))
        with self._reading("read the run history") as conn:
            rows = conn.execute(query).all()
        return [
            RunRecord(
                run_id=r.id, mode=r.mode, started_at=_utc(r.started_at),
                finished_at=_utc(r.finished_at) if r.finished_at is not None else None,
                counts=json.loads(r.counts) if r.counts else {}, exit_code=r.exit_code,
            )
            for r in rows
        ]

    # lock -------------------------------------------------------------------------------

    def acquire_lock(self, holder: LockHolder) -> None:
        """Take the run lock for ``holder`` or raise ``LockHeld`` naming the current holder.
        A lock whose holder may be taken over (``sync.state.lock``) is, with a warning."""
        current = None
        for _attempt in range(3):
            token = uuid.uuid4().hex
            mine = dict(host=holder.host, pid=holder.pid, started_at=_utc(holder.started_at),
                        token=token)
            with self._writing("take the lock") as conn:
                try:
                    with conn.begin_nested():
                        conn.execute(lock.insert().values(id=1, **mine))
                    taken = True
                except IntegrityError:
                    taken = False
                if not taken:
                    row = conn.execute(select(lock).where(lock.c.id == 1)).first()
                    if row is None:
                        continue  # released meanwhile: try the insert again
                    current = LockHolder(row.host, row.pid, _utc(row.started_at))
                    reason = takeover_reason(current, stale_after=self._stale_after)
                    if reason is None:
                        raise lock_held(current, self.location, self._stale_after)
                    taken = conn.execute(
                        update(lock).where(lock.c.id == 1, lock.c.token == row.token)
                        .values(**mine)
                    ).rowcount == 1
                    if taken:
                        log.warning("state store %s: took over the lock of %s: %s",
                                    self.location, current.describe(), reason)
            if taken:
                self._lock_token = token
                return
        if current is None:
            raise SyncError(f"state store {self.location}: could not take the lock")
        raise lock_held(current, self.location, self._stale_after)

    def release_lock(self) -> None:
        """Release the lock this store acquired (nothing if it holds none)."""
        if self._lock_token is None:
            return
        with self._writing("release the lock") as conn:
            gone = conn.execute(delete(lock).where(lock.c.token == self._lock_token)).rowcount
        if gone != 1:
            log.warning("state store %s: our lock was taken over before release", self.location)
        self._lock_token = None

    # journal ----------------------------------------------------------------------------

    def journal_open(self, run_id: int, action: Action | str, keys: Sequence[str]) -> int:
        """Write (and commit) one journal entry for a batch about to be sent."""
        with self._writing("write the journal") as conn:
            result = conn.execute(
                journal.insert().values(
                    run_id=run_id, action=Action(action).value,
                    payload=encode_payload(keys), sent_at=_now(),
                )
            )
            return int(result.inserted_primary_key[0])

    def journal_close(self, batch_id: int) -> None:
        with self._writing("close a journal entry") as conn:
            conn.execute(delete(journal).where(journal.c.id == batch_id))

    def journal_pending(self) -> list[JournalEntry]:
        with self._reading("read the journal") as conn:
            rows = conn.execute(select(journal).order_by(journal.c.id)).all()
        return [
            JournalEntry(id=r.id, run_id=r.run_id, action=Action(r.action),
                         keys=decode_keys(r.payload), sent_at=_utc(r.sent_at))
            for r in rows
        ]

    def close(self) -> None:
        self._engine.dispose()

    # plumbing ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _reading(self, doing: str) -> Iterator[Connection]:
        self._ensure_schema()
        with self._db_errors(doing), self._engine.begin() as conn:
            yield conn

    @contextlib.contextmanager
    def _writing(self, doing: str) -> Iterator[Connection]:
        self._ensure_schema()
        with self._db_errors(doing), self._writer.begin() as conn:
            yield conn

    def _ensure_schema(self) -> None:
        if self._schema_ready:
            return
        create_sqlite_file(self._url, self.location)
        with self._db_errors("open the database"), self._writer.begin() as conn:
            ensure_schema(conn, self.location)
        self._schema_ready = True

    @contextlib.contextmanager
    def _db_errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except SQLAlchemyError as exc:
            problem = describe_problem(exc, self._url.password)
            raise SyncError(
                f"state store {self.location}: could not {doing}: {problem}"
            ) from exc


_UPDATE_USER = (
    update(users)
    .where(users.c.key == bindparam("b_key"))
    .values(
        chamilo_user_id=bindparam("b_chamilo_user_id"),
        source=bindparam("b_source"),
        active=bindparam("b_active"),
        field_values=bindparam("b_field_values"),
        updated_at=bindparam("b_updated_at"),
    )
)


def _row_params(row: UserRow, prefix: str = "") -> dict:
    params = {
        "key": row.key,
        "chamilo_user_id": row.chamilo_user_id,
        "source": row.source,
        "active": bool(row.active),
        "field_values": json.dumps(dict(row.values), sort_keys=True, ensure_ascii=False),
        "created_at": _utc(row.created_at),
        "updated_at": _utc(row.updated_at),
    }
    if prefix:
        del params["created_at"]
    return {prefix + k: v for k, v in params.items()}


def _fetch_rows(conn: Connection, keys: Sequence[str]) -> dict[str, UserRow]:
    out: dict[str, UserRow] = {}
    for start in range(0, len(keys), _IN_CHUNK):
        chunk = keys[start : start + _IN_CHUNK]
        for r in conn.execute(select(users).where(users.c.key.in_(chunk))):
            out[r.key] = UserRow(
                key=r.key, chamilo_user_id=r.chamilo_user_id, source=r.source,
                active=bool(r.active), values=json.loads(r.field_values),
                created_at=_utc(r.created_at), updated_at=_utc(r.updated_at),
            )
    return out


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _now() -> datetime:
    return datetime.now(UTC)
