"""Settle what a killed run left in the journal, before planning (crash safety, SPEC §7).

A journal entry is written before a batch is sent and closed in the same transaction that
records the batch's outcomes. An open entry therefore means: the batch may or may not have
reached Chamilo. Updates, enables and disables are idempotent: the state store was not
changed, so the next plan simply contains them again. Creates are not re-sent blindly: each
key is looked up with WSGetUser; an account that exists is adopted (recorded with its id and
no pushed values, so the plan edits it to the desired values); a key Chamilo does not hold is
left unknown to the state store, so the plan creates it.
"""

from __future__ import annotations

import logging

from sync.model import Action, Change, Outcome, Status
from sync.ports import ChamiloClient

log = logging.getLogger(__name__)


def settle_journal(store, client: ChamiloClient, pending) -> int:
    """Returns how many accounts were adopted. Lookup failures propagate (nothing is sent)."""
    known = store.known()
    adopted = 0
    for entry in pending:
        pairs = []
        if entry.action == Action.CREATE.value:
            for key in entry.keys:
                if key in known.index:
                    continue
                found = client.get_user(key)
                if found is not None:
                    outcome = Outcome(Action.ADOPT, key, Status.APPLIED, found.user_id,
                                      "settled from the journal")
                    pairs.append((Change(Action.ADOPT, key, None), outcome))
        store.record(pairs, journal_id=entry.id)
        adopted += len(pairs)
        log.info("settled journal entry %s (%s of %d users): %d adopted",
                 entry.id, entry.action, len(entry.keys), len(pairs))
    return adopted
