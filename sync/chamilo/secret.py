"""The ``secret_key`` every Chamilo web-service call carries (API.md §4).

Chamilo expects ``sha1(<caller IP> . security_key)`` in lowercase hex, where the caller IP is
the address Chamilo sees: its ``REMOTE_ADDR``, or the first entry of an ``X-Forwarded-For``
header if one reaches PHP. The derived value is as secret as the key itself.
"""

from __future__ import annotations

import hashlib


def derive_secret_key(client_ip: str, security_key: str) -> str:
    """``sha1(client_ip + security_key)`` as lowercase hex.

    ``client_ip`` is stripped (Chamilo trims the address it compares); the key is used as
    given (whoever reads it from a file strips the trailing newline).
    """
    return hashlib.sha1((client_ip.strip() + security_key).encode("utf-8")).hexdigest()
