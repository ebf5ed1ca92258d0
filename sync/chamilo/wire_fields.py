"""How a ``UserPayload`` maps onto Chamilo's create and edit structs (shared by the SOAP client
and the in-memory fake, so both accept and refuse the same payloads)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sync.model import EXTRA_PREFIX, UserPayload

#: UserPayload.fields (create names) → element of ``usersParams``.
CREATE_FIELDS: dict[str, str] = {f: f for f in (
    "firstname", "lastname", "status", "email", "loginname", "language", "phone", "expiration_date")}
#: UserPayload.fields → element of ``editUsersParams`` (no ``language`` on edit).
EDIT_FIELDS: dict[str, str] = {
    "firstname": "firstname", "lastname": "lastname", "loginname": "username", "email": "email",
    "status": "status", "phone": "phone", "expiration_date": "expiration_date"}
#: Written by Chamilo on every edit: omitting them breaks or demotes the account.
EDIT_REQUIRED: tuple[str, ...] = ("loginname", "email", "status")


def split_fields(user: UserPayload) -> tuple[dict[str, Any], dict[str, str]]:
    """``user.fields`` without ``extra.<name>`` keys, and the extras (``user.extras`` wins).
    ``ValueError`` for a field Chamilo does not have."""
    fields: dict[str, Any] = {}
    extras: dict[str, str] = {}
    for name, value in user.fields.items():
        if str(name).startswith(EXTRA_PREFIX):
            if value is not None:
                extras[str(name)[len(EXTRA_PREFIX):]] = str(value)
        elif name in CREATE_FIELDS:
            fields[name] = value
        else:
            raise ValueError(f"user {user.key!r}: unknown Chamilo field {name!r}")
    extras.update({k: str(v) for k, v in user.extras.items() if v is not None})
    return fields, extras


def require_edit_fields(users: Sequence[UserPayload]) -> None:
    """``ValueError`` unless every payload carries username (``loginname``), email and status."""
    for user in users:
        missing = [f for f in EDIT_REQUIRED if user.fields.get(f) is None]
        if missing:
            raise ValueError(f"edit of {user.key!r} needs {', '.join(missing)}: Chamilo "
                             "overwrites them on every edit")
