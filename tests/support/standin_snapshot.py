"""Save a prepared situation once, restore it before each test: Chamilo's accounts (through the
stand-in controller's public methods) and the state store file (SQLite's backup API, so a
``-wal`` file is folded in and the copy is consistent).

Restoring after ``reset()`` gives every account its original id again (the stand-in's id
sequence restarts at 1 and accounts are re-added in id order), so the Chamilo user ids the
saved state store holds stay right.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Snapshot:
    accounts: tuple[dict, ...]
    state_db: Path

    def restore(self, chamilo, state_db: Path) -> None:
        chamilo.reset()
        for a in self.accounts:
            new_id = chamilo.add_user(
                a["original_id"], username=a["username"], firstname=a["firstname"],
                lastname=a["lastname"], email=a["email"], status=str(a["status"]),
                active=bool(a["active"]), phone=a["phone"], expiration_date=a["expiration_date"],
                language=a["language"], extras=dict(a["extras"]), is_admin=bool(a["is_admin"]))
            assert new_id == a["id"], "the stand-in did not reuse the saved account ids"
        copy_sqlite(self.state_db, state_db)


def copy_sqlite(source: Path, target: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(str(target) + suffix).unlink(missing_ok=True)
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
    target.chmod(0o600)


def take_snapshot(chamilo, state_db: Path, keep_in: Path) -> Snapshot:
    saved = keep_in / "state-snapshot.db"
    copy_sqlite(state_db, saved)
    return Snapshot(tuple(chamilo.users()), saved)
