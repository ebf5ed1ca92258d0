"""The three boundaries of the tool, each described once.

Terms
-----
key
    ``original_user_id_value``: the string that identifies a person in the sources and in
    Chamilo (stored in the Chamilo extra field named by ``original_user_id_name``).
known user
    a key the state store has a row for: what this tool last pushed for it, its Chamilo user
    id, owning source and active flag. The state store is a memory of our own writes, not a
    mirror of Chamilo.
outcome
    the per-user result of a write: applied, failed (with a reason) or unknown (fate not known,
    settled by the next run).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import pandas as pd

from sync.model import (
    Change,
    ChamiloUser,
    ItemResult,
    Outcome,
    RunRecord,
    SourceData,
    UserPayload,
)


class Source(Protocol):
    """A place people are read from. ``read`` returns the whole raw frame or raises
    ``SourceError`` (unreadable, empty, possibly truncated): never a partial result."""

    name: str

    def read(self) -> SourceData: ...


class StateStore(Protocol):
    """What this tool remembers between runs (SPEC §7). Never holds a password."""

    def known(self) -> pd.DataFrame:
        """The known frame (see ``sync.model``): index ``key``."""

    def record(self, batch: Sequence[tuple[Change, Outcome]]) -> None:
        """Record the outcomes of one batch in one transaction. Only ``applied`` outcomes
        change users: create/adopt insert (or replace) the row with ``change.fields`` as the
        last pushed values, ``outcome.chamilo_user_id`` and ``change.source``; update merges
        ``change.fields`` into the last pushed values; enable sets active (and merges fields);
        disable clears active."""

    def start_run(self, mode: str) -> int: ...

    def finish_run(self, run_id: int, counts: Mapping[str, int], exit_code: int) -> None: ...

    def history(self, limit: int) -> list[RunRecord]: ...

    def close(self) -> None: ...


class ChamiloClient(Protocol):
    """Chamilo's ``registration.soap.php``. Batch methods return exactly one ``ItemResult``
    per input item, in input order. They raise ``KeyRefused`` for a refused key,
    ``TransientError`` when the call's fate is unknown (after the client's own retries), and
    ``ChamiloError`` when Chamilo cannot be used at all."""

    def create_users(self, users: Sequence[UserPayload]) -> list[ItemResult]: ...

    def edit_users(self, users: Sequence[UserPayload]) -> list[ItemResult]: ...

    def enable_users(self, keys: Sequence[str]) -> list[ItemResult]: ...

    def disable_users(self, keys: Sequence[str]) -> list[ItemResult]: ...

    def get_user(self, key: str) -> ChamiloUser | None:
        """The account holding ``key`` (active or not), or ``None``."""

    def check(self) -> None:
        """Load the WSDL and prove the key with a harmless call; raise otherwise."""
