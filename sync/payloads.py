"""From a planned change to what is sent to Chamilo, including passwords made at apply time."""

from __future__ import annotations

import secrets
import string

from sync.model import EXTRA_PREFIX, Change, UserPayload

_ALPHABET = string.ascii_letters + string.digits + "-_.!@#%+="


def generate_password(length: int = 20) -> str:
    """A strong random password (letters, digits and symbols; every class present)."""
    while True:
        pw = "".join(secrets.choice(_ALPHABET) for _ in range(length))
        if (any(c.islower() for c in pw) and any(c.isupper() for c in pw)
                and any(c.isdigit() for c in pw) and any(not c.isalnum() for c in pw)):
            return pw


def payload_for(change: Change, password: str | None = None, with_password: bool = False) -> UserPayload:
    """Split fields and extras; drop an empty ``expiration_date`` (Chamilo crashes on ``''``;
    omitting it means no expiry). With ``with_password`` (creates only), use ``password`` or a
    generated one."""
    fields: dict[str, str] = {}
    extras: dict[str, str] = {}
    for name, value in change.fields.items():
        if name.startswith(EXTRA_PREFIX):
            extras[name[len(EXTRA_PREFIX):]] = value
        elif name == "expiration_date" and not value:
            continue
        else:
            fields[name] = value
    if with_password and not password:
        password = generate_password()
    return UserPayload(change.key, fields, extras, password if with_password else None)
