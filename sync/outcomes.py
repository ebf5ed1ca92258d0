"""Turn Chamilo's per-item answers into outcomes (SPEC §7 "Per-user results").

A ``0`` is not an answer to trust blindly: a refused create is looked up with WSGetUser; if
Chamilo already holds the key, the account is adopted and edited to the desired values;
otherwise the reason is narrowed down as far as the state store allows.

Adopting: WSGetUser also finds disabled accounts, and Chamilo refuses to edit those (result
``0``). The desired user is active, so an adopted account whose edit is refused is enabled
(WSEnableUsers) and edited once more; the outcome's message says so.

A create whose fate is unknown (or whose call was refused) is settled by looking its keys
up, never by sending it again (``settle_creates``). Once a look-up fails, Chamilo is not
answering: the remaining keys are left ``unknown`` without asking, instead of waiting for
every look-up's retries and timeouts in turn.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import pandas as pd

from sync.errors import ChamiloError, KeyRefused, TransientError
from sync.model import ACTIVE, USER_ID, Action, Change, ItemResult, Outcome, Status, field_columns
from sync.payloads import payload_for
from sync.ports import ChamiloClient

log = logging.getLogger(__name__)

#: Per user: the outcome to report, and the (change, outcome) pair to record (or None).
Settled = tuple[Outcome, tuple[Change, Outcome] | None]


def _user_id(result: str | None) -> int | None:
    if result is None:
        return None
    text = result.strip()
    return int(text) if text.isdigit() and int(text) > 0 else None


class Interpreter:
    """``known`` is the known frame at plan time, used to explain refusals (e.g. which known
    key already holds a login)."""

    def __init__(self, client: ChamiloClient, known: pd.DataFrame) -> None:
        self.client = client
        self._logins: Mapping[str, tuple[str, object]] = {}
        if not known.empty and "loginname" in known.columns:
            logins = known["loginname"].dropna().astype(str)
            self._logins = {
                login.casefold(): (key, known.at[key, USER_ID])
                for key, login in logins.items()
                if login
            }
        self._known_ids = known[USER_ID].to_dict() if USER_ID in known.columns else {}
        self._known_active = known[ACTIVE].to_dict() if ACTIVE in known.columns else {}
        fields = field_columns(known.columns)
        # Adopted accounts this tool has never edited: Chamilo may hold them disabled.
        self._never_pushed = (frozenset(known.index[known[fields].isna().all(axis=1)])
                              if fields and not known.empty else frozenset(known.index))

    def result(self, change: Change, item: ItemResult) -> Settled:
        action = change.action
        raw = item.result
        if action is Action.CREATE:
            uid = _user_id(raw)
            if uid is not None:
                return self._applied(change, uid)
            if raw is not None and raw.strip() not in ("", "0"):
                return self._failed(change, f"Chamilo refused the create: {raw.strip()}")
            return self._create_refused(change)
        if action is Action.UPDATE:
            if raw is not None and raw.strip() not in ("", "0"):
                return self._applied(change, _user_id(raw))
            if change.key in self._never_pushed and self._id_of(change) is not None:
                # an adopted account Chamilo holds disabled refuses edits: enable, edit again
                return self._adopt_and_edit(change, self._id_of(change),
                                            "the adopted account refused its first edit")
            return self._failed(change, self._edit_refused_reason(change))
        # enable / disable: "1", a 1.9 server answers nothing (None)
        if raw is None or raw.strip() not in ("", "0"):
            return self._applied(change, None)
        return self._failed(change, f"Chamilo has no account with {self._key_text(change.key)}"
                            f" (deleted in Chamilo?); nothing to {action.value}")

    # -- creates --------------------------------------------------------------------------------
    def _create_refused(self, change: Change) -> Settled:
        try:
            found = self.client.get_user(change.key)
        except (TransientError, ChamiloError) as exc:
            return self._unknown(change, f"create answered 0 and the look-up failed ({exc})")
        if found is not None:
            return self._adopt_and_edit(change, found.user_id, "Chamilo already had an account "
                                                              "with this key")
        return self._failed(change, self._create_refused_reason(change))

    def settle_creates(self, changes, why: str) -> list[Settled]:
        """The creates' fate is unknown (timeout, HTTP 5xx, refused call): look each key up,
        never re-send; after a failed look-up, the rest stay unknown without asking."""
        out: list[Settled] = []
        answering = True
        for change in changes:
            if not answering:
                out.append(self._unknown(change, f"{why}; not looked up (Chamilo did not "
                                                 "answer a look-up); the next run settles it"))
                continue
            try:
                found = self.client.get_user(change.key)
            except KeyRefused:
                raise
            except (TransientError, ChamiloError) as exc:
                answering = False
                out.append(self._unknown(change, f"{why}; look-up failed too ({exc}); the next "
                                                 "run settles it"))
                continue
            if found is None:
                out.append(self._unknown(change, f"{why}; Chamilo has no account with this key "
                                                 "yet; the next run settles it"))
            else:
                out.append(self._adopt_and_edit(change, found.user_id,
                                                f"{why}; the account exists"))
        return out

    def _adopt_and_edit(self, change: Change, user_id: int, why: str) -> Settled:
        adopt = (Change(Action.ADOPT, change.key, change.source),
                 Outcome(Action.ADOPT, change.key, Status.APPLIED, user_id))
        enabled = ""
        try:
            edited = self._edit(change)
            if not edited and self._enable(change.key):  # a disabled account refuses edits
                enabled = " (its edit was refused: enabled it first)"
                edited = self._edit(change)
        except KeyRefused:
            raise
        except (TransientError, ChamiloError) as exc:
            return (Outcome(change.action, change.key, Status.UNKNOWN, user_id,
                            f"{why}: adopted Chamilo user {user_id}{enabled}, but editing it "
                            f"failed ({exc}); the next run edits it"), adopt)
        if not edited:
            return (Outcome(change.action, change.key, Status.FAILED, user_id,
                            f"{why}: adopted Chamilo user {user_id}{enabled}, but Chamilo refused "
                            f"to edit it ({self._edit_refused_reason(change)})"), adopt)
        outcome = Outcome(change.action, change.key, Status.APPLIED, user_id,
                          f"{why}: adopted Chamilo user {user_id}{enabled} and updated it")
        return outcome, (change, outcome)

    def _edit(self, change: Change) -> bool:
        [item] = self.client.edit_users([payload_for(change, None, False)])
        return not (item.result is None or item.result.strip() in ("", "0"))

    def _enable(self, key: str) -> bool:
        [item] = self.client.enable_users([key])
        return item.result is None or item.result.strip() not in ("", "0")

    def _create_refused_reason(self, change: Change) -> str:
        login = change.fields.get("loginname", "")
        holder = self._logins.get(login.casefold()) if login else None
        if holder is not None and holder[0] != change.key:
            return (f"the login {login!r} is already held by key {holder[0]!r} "
                    f"(Chamilo user {holder[1]})")
        return (f"Chamilo refused the create (result 0) and has no account with this key: the "
                f"login {login!r} is probably taken by an account this tool does not manage, "
                "or the platform's user limit is reached")

    def _edit_refused_reason(self, change: Change) -> str:
        try:
            found = self.client.get_user(change.key)
        except (TransientError, ChamiloError):
            found = "?"
        if found is None:
            return "Chamilo has no account with this key any more (deleted in Chamilo?)"
        login = change.fields.get("loginname", "")
        holder = self._logins.get(login.casefold()) if login else None
        if holder is not None and holder[0] != change.key:
            return f"the login {login!r} is already held by key {holder[0]!r} (Chamilo user {holder[1]})"
        return (f"Chamilo refused the edit (result 0): the account is disabled in Chamilo, or "
                f"the login {login!r} is held by another account")

    # -- outcomes ------------------------------------------------------------------------------
    def _applied(self, change: Change, user_id: int | None) -> Settled:
        if user_id is None:
            known = self._known_ids.get(change.key)
            user_id = None if known is None or pd.isna(known) else int(known)
        outcome = Outcome(change.action, change.key, Status.APPLIED, user_id)
        return outcome, (change, outcome)

    def _failed(self, change: Change, reason: str) -> Settled:
        return Outcome(change.action, change.key, Status.FAILED, self._id_of(change), reason), None

    def _unknown(self, change: Change, reason: str) -> Settled:
        return Outcome(change.action, change.key, Status.UNKNOWN, self._id_of(change), reason), None

    def _id_of(self, change: Change) -> int | None:
        known = self._known_ids.get(change.key)
        return None if known is None or pd.isna(known) else int(known)

    @staticmethod
    def _key_text(key: str) -> str:
        return f"key {key!r}"
