"""People for end-to-end scenarios, and the one definition of "Chamilo has converged".

``Person`` is one CSV row of the bundled example mapping (``mappings/people.toml``) together
with what Chamilo must hold for it. Names are ASCII so the expected login is simply
``first[0] + last``, lower-cased.

``assert_converged`` checks, against the stand-in and the state store:

* no duplicate account: no two accounts hold the same original id (compared
  case-insensitively, as Chamilo does on MySQL) and no two share a username;
* no missed change: every active person has exactly one active account with the desired
  values; every inactive or removed person's account exists and is disabled;
* the state store agrees: it knows every person with the Chamilo id of that account and the
  right active flag, and its journal is empty (nothing left to settle).
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from tests.support.cli import HEADER, person_row

STATUS = {"student": "5", "teacher": "1", "staff": "1"}


@dataclass(frozen=True)
class Person:
    key: str
    first: str = "Ann"
    last: str = ""
    email: str = ""
    role: str = "student"
    dept: str = "Sciences"
    state: str = "active"  # the mapping's [active] values are "active" and "enrolled"
    end: str = "30/06/2027"  # day/month/year, or "" for no expiry

    def __post_init__(self) -> None:
        if not self.last:
            object.__setattr__(self, "last", f"Lee{self.key}")
        if not self.email:
            object.__setattr__(self, "email", f"{self.first}.{self.last}@school.example".lower())

    @property
    def active(self) -> bool:
        return self.state in ("active", "enrolled")

    @property
    def username(self) -> str:
        return (self.first[0] + self.last).lower()

    def but(self, **changes) -> Person:
        return replace(self, **changes)

    def row(self) -> str:
        return person_row(self.key, self.first, self.last, email=self.email, role=self.role,
                          dept=self.dept, state=self.state, end=self.end)

    def expected(self) -> dict:
        day, month, year = self.end.split("/") if self.end else (None, None, None)
        return {"username": self.username, "firstname": self.first, "lastname": self.last,
                "email": self.email, "status": STATUS[self.role], "department": self.dept,
                "expiration_date": f"{year}-{month}-{day} 23:59:59" if self.end else None}


def csv_of(people) -> str:
    return HEADER + "".join(p.row() for p in people)


def account_values(account: dict) -> dict:
    return {"username": account["username"], "firstname": account["firstname"],
            "lastname": account["lastname"], "email": account["email"],
            "status": str(account["status"]), "department": account["extras"].get("department"),
            "expiration_date": account["expiration_date"]}


def duplicates(accounts: list[dict]) -> dict[str, list]:
    """Original ids (case-folded) and usernames held by more than one account."""
    ids = Counter((a["original_id"] or "").casefold() for a in accounts if a["original_id"])
    names = Counter(a["username"].casefold() for a in accounts)
    return {"original ids": sorted(k for k, n in ids.items() if n > 1),
            "usernames": sorted(k for k, n in names.items() if n > 1)}


def state_users(state_db: Path) -> dict[str, tuple[int | None, bool]]:
    db = sqlite3.connect(f"file:{state_db}?mode=ro", uri=True)
    try:
        return {k: (uid, bool(a)) for k, uid, a in
                db.execute("SELECT key, chamilo_user_id, active FROM users")}
    finally:
        db.close()


def open_journal(state_db: Path) -> list[tuple[str, str]]:
    """Open journal entries as (action, payload)."""
    db = sqlite3.connect(f"file:{state_db}?mode=ro", uri=True)
    try:
        return [(a, p) for a, p in db.execute("SELECT action, payload FROM journal ORDER BY id")]
    finally:
        db.close()


def lock_row(state_db: Path) -> tuple[str, int, datetime] | None:
    """The run lock as stored: (host, pid, started_at in UTC), or ``None``."""
    db = sqlite3.connect(f"file:{state_db}?mode=ro", uri=True)
    try:
        row = db.execute("SELECT host, pid, started_at FROM lock").fetchone()
    except sqlite3.OperationalError:  # no schema yet
        return None
    finally:
        db.close()
    if row is None:
        return None
    return row[0], row[1], datetime.fromisoformat(row[2]).replace(tzinfo=UTC)


def assert_converged(chamilo, people, *, removed=(), state_db: Path | None = None) -> None:
    accounts = chamilo.users()
    dups = duplicates(accounts)
    assert dups == {"original ids": [], "usernames": []}, f"duplicate accounts: {dups}"
    by_key = {(a["original_id"] or "").casefold(): a for a in accounts if a["original_id"]}
    wrong = {}
    for p in people:
        account = by_key.get(p.key.casefold())
        if account is None:
            wrong[p.key] = "no account"
        elif account["active"] != p.active:
            wrong[p.key] = f"active={account['active']}, want {p.active}"
        elif p.active and account_values(account) != p.expected():
            wrong[p.key] = {k: (v, p.expected()[k]) for k, v in account_values(account).items()
                            if v != p.expected()[k]}
    for key in removed:
        account = by_key.get(key.casefold())
        if account is None or account["active"]:
            wrong[key] = "removed from the source but not disabled"
    assert wrong == {}, f"Chamilo has not converged: {wrong}"
    if state_db is None:
        return
    known = state_users(state_db)
    want = {p.key: (by_key[p.key.casefold()]["id"], p.active) for p in people}
    want.update({k: (by_key[k.casefold()]["id"], False) for k in removed})
    got = {k: known.get(k) for k in want}
    assert got == want, "the state store disagrees with Chamilo"
    assert open_journal(state_db) == [], "journal entries left open after convergence"
