"""The write-ahead journal: batches sent to Chamilo whose outcomes are not recorded yet.

Before a batch is sent, the runner opens a journal entry (committed on its own); the entry is
deleted in the same transaction that records the batch's outcomes. An entry still present at
the start of a run names users whose fate is unknown (the process died in between): the next
run settles them. An entry holds the action and the keys only: never a field value, never a
password.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sync.model import Action


@dataclass(frozen=True)
class JournalEntry:
    """One batch sent (or about to be sent) but not recorded.

    ``id``: the entry id (``journal_open``'s result). ``run_id``: the run that sent it.
    ``action``: the batch's action. ``keys``: the batch's keys, in batch order. ``sent_at``:
    when the entry was opened (timezone-aware UTC).
    """

    id: int
    run_id: int
    action: Action
    keys: tuple[str, ...]
    sent_at: datetime


def encode_payload(keys: Sequence[str]) -> str:
    """The JSON payload stored for an entry."""
    return json.dumps({"keys": [str(k) for k in keys]})


def decode_keys(payload: str) -> tuple[str, ...]:
    return tuple(json.loads(payload)["keys"])
