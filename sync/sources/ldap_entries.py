"""A lighter decoding of search entries for one ldap3 connection.

For every entry, ldap3 builds two case-insensitive dicts (values run through its schema
formatters, and raw values); reading 50 000 entries spends about half its time there. The
source only needs the DN and the raw values, so ``use_lean_entries(conn)`` replaces, on that
connection's strategy object only, the decoding of plain search entries with one that builds
``{"type": "searchResEntry", "dn": str, "raw_attributes": {lower-cased name: [bytes, …]}}``.
Every other message (bind and search results, references, entries that carry controls) goes
through ldap3 unchanged, and so does reading and BER-decoding the socket.

It relies on ldap3 2.9's fast-decoder message layout (the dependency is pinned below 3);
``tests/integration/test_ldap_source.py`` compares its frames with ldap3's own decoding
against a real slapd. The connection's ``return_empty_attributes`` and ``auto_range`` are
turned off, since both post-process ldap3's full entries (the source fills missing attributes
itself and refuses range-tagged ones).
"""

from __future__ import annotations

import ldap3

SEARCH_RESULT_ENTRY = 4  # protocolOp of SearchResultEntry, RFC 4511 §4.5.2


def use_lean_entries(conn: ldap3.Connection) -> bool:
    """Install the lean decoding on ``conn``; ``False`` (nothing changed) when the connection
    does not use ldap3's fast decoder."""
    strategy = conn.strategy
    stock = getattr(type(strategy), "decode_response_fast", None)
    if stock is None or not conn.fast_decoder:
        return False

    def decode(message: dict) -> dict:
        if message["protocolOp"] != SEARCH_RESULT_ENTRY or message["controls"]:
            return stock(strategy, message)
        name, attributes = message["payload"][0][3], message["payload"][1][3]
        return {
            "type": "searchResEntry",
            "dn": name.decode("utf-8", "replace"),
            "raw_attributes": {
                a[3][0][3].decode("utf-8", "replace").lower(): [v[3] for v in a[3][1][3]]
                for a in attributes
            },
        }

    strategy.decode_response_fast = decode
    conn.empty_attributes = False
    conn.auto_range = False
    return True
