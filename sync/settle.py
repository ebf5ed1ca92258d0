"""Settle what a killed run left in the journal, before planning (crash safety, SPEC §7).

A journal entry is written before a batch is sent and closed in the same transaction that
records the batch's outcomes. An open entry therefore means: the batch may or may not have
reached Chamilo. Updates, enables and disables are idempotent: the state store was not
changed, so the next plan simply contains them again. Creates are not re-sent blindly: each
key is looked up with WSGetUser; an account that exists is adopted (recorded with its id and
no pushed values, so the plan edits it to the desired values); a key Chamilo does not hold is
left unknown to the state store, so the plan creates it, one per call (``not_found``: a
create that failed as a whole may have been failing because of one of its users).

Who owns an adopted account (which decides whether ``apply`` may disable it later):

* a key the current run desires: its desired source (``owners``), exactly as the update the
  plan then sends would set it;
* a key no source provides any more: ``fallback_owner`` (the runner passes the only
  configured source of an ``apply``) if the interrupted run was not an ``import``, so the
  plan disables it like any other managed user that left the sources; otherwise nobody (an
  unmanaged account is never disabled; a warning names it).

If a look-up fails, nothing is planned or sent: ``ChamiloError`` (exit 2) stops the run and
the entry stays open for the next one.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sync.errors import ChamiloError, KeyRefused, TransientError
from sync.model import Action, Change, Mode, Outcome, Status
from sync.ports import ChamiloClient

log = logging.getLogger(__name__)

_HISTORY_SCAN = 1000  # runs looked back for the mode of the run that left an entry


@dataclass(frozen=True)
class Settlement:
    """``adopted``: accounts recorded; ``not_found``: case-folded keys of journaled creates
    Chamilo does not hold (the plan creates them again)."""

    adopted: int = 0
    not_found: frozenset[str] = frozenset()


def settle_journal(store, client: ChamiloClient, pending: Sequence, *,
                   owners: Mapping[str, str | None] | None = None,
                   fallback_owner: str | None = None) -> Settlement:
    """Settle and close every ``pending`` entry. ``owners``: case-folded key → owning source
    for the keys this run desires."""
    owners = owners or {}
    modes = {r.run_id: r.mode for r in store.history(_HISTORY_SCAN)}
    known = {str(k).casefold() for k in store.known().index}
    adopted = 0
    not_found: set[str] = set()
    for entry in pending:
        pairs = []
        if entry.action == Action.CREATE.value:
            for key in entry.keys:
                if key.casefold() in known:
                    continue
                found = _look_up(client, key)
                if found is None:
                    not_found.add(key.casefold())
                    continue
                owner = _owner(key, owners, fallback_owner, modes.get(entry.run_id))
                outcome = Outcome(Action.ADOPT, key, Status.APPLIED, found.user_id,
                                  "settled from the journal")
                pairs.append((Change(Action.ADOPT, key, owner), outcome))
                known.add(key.casefold())
        store.record(pairs, journal_id=entry.id)
        adopted += len(pairs)
        log.info("settled journal entry %s (%s of %d users): %d adopted",
                 entry.id, entry.action, len(entry.keys), len(pairs))
    return Settlement(adopted, frozenset(not_found))


def _look_up(client: ChamiloClient, key: str):
    try:
        return client.get_user(key)
    except KeyRefused:
        raise
    except (TransientError, ChamiloError) as exc:
        raise ChamiloError(
            f"could not settle the batches an interrupted run left unrecorded: looking key "
            f"{key!r} up in Chamilo failed ({exc}); nothing was sent",
            hint="the next run tries again; nothing is lost meanwhile") from None


def _owner(key: str, owners: Mapping[str, str | None], fallback: str | None,
           mode: str | None) -> str | None:
    folded = key.casefold()
    if folded in owners:
        return owners[folded]
    if fallback is not None and mode is not None and mode != Mode.IMPORT.value:
        return fallback
    log.warning("key %r: the account an interrupted run created is in no source any more; "
                "it is recorded as unmanaged and will not be disabled by apply", key)
    return None
