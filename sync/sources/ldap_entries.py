"""BER decoding of one SearchResultEntry, straight from the received bytes.

ldap3's fast decoder turns every element of a message into a tuple through a generic,
recursive ``decode_sequence``, then ldap3 builds two case-insensitive dicts per entry; for
50 000 entries that is most of the time a read takes. The source only needs the DN and the
raw values, and a search entry has one fixed shape (RFC 4511 §4.5.2)::

    SearchResultEntry ::= [APPLICATION 4] SEQUENCE {
        objectName      LDAPDN,                           -- OCTET STRING
        attributes      SEQUENCE OF SEQUENCE {
            type        AttributeDescription,             -- OCTET STRING
            vals        SET OF AttributeValue } }         -- OCTET STRING each

so ``read_entry`` walks it directly: definite lengths only (LDAP forbids the others, RFC 4511
§5.1), universal tags checked at every step, each nested length checked against its parent.
Anything else raises ``Malformed``, and the caller (``sync.sources.ldap_receive``) then hands
the whole message to ldap3's own decoder instead. The DN and attribute names are decoded as
UTF-8 (an invalid byte becomes U+FFFD), names are lower-cased, values stay ``bytes`` in the
order the server sent them.
"""

from __future__ import annotations

OCTET_STRING, SEQUENCE, SET = 0x04, 0x30, 0x31
SEARCH_RESULT_ENTRY = 0x64  # [APPLICATION 4], constructed: the protocolOp of an entry


class Malformed(ValueError):
    """The bytes are not a search entry in the shape ``read_entry`` decodes."""


def span(data: bytes, i: int) -> tuple[int, int]:
    """Where the content of the element whose tag is at ``data[i]`` starts and ends."""
    n = data[i + 1]
    if n < 0x80:
        return i + 2, i + 2 + n
    width = n - 0x80
    if not 0 < width <= 4:  # indefinite form, or a length beyond 4 GiB
        raise Malformed(f"unsupported BER length at offset {i}")
    start = i + 2 + width
    return start, start + int.from_bytes(data[i + 2:start], "big")


def read_entry(data: bytes, i: int, end: int, names: dict[bytes, str]
               ) -> tuple[str, dict[str, list[bytes]]]:
    """The DN and ``{lower-cased name: [value, …]}`` of the SearchResultEntry content held
    in ``data[i:end]``. ``names`` caches decoded attribute names between calls.

    Short-form lengths (under 128 bytes, nearly all of them) are read inline; ``span``
    reads the others."""
    if data[i] != OCTET_STRING:
        raise Malformed("the entry does not start with its DN")
    start, i = span(data, i)
    dn = data[start:i].decode("utf-8", "replace")
    if i >= end or data[i] != SEQUENCE:
        raise Malformed("the entry has no attribute list")
    i, stop = span(data, i)
    if stop != end:
        raise Malformed("the attribute list does not end with the entry")
    attributes = {}
    while i < stop:
        if data[i] != SEQUENCE:
            raise Malformed("an attribute is not a sequence")
        n = data[i + 1]
        if n < 0x80:
            i += 2
            attribute_end = i + n
        else:
            i, attribute_end = span(data, i)
        if data[i] != OCTET_STRING:
            raise Malformed("an attribute has no type")
        n = data[i + 1]
        if n < 0x80:
            start = i + 2
            i = start + n
        else:
            start, i = span(data, i)
        raw_name = data[start:i]
        name = names.get(raw_name)
        if name is None:
            name = names[raw_name] = raw_name.decode("utf-8", "replace").lower()
        if data[i] != SET:
            raise Malformed("an attribute has no value set")
        n = data[i + 1]
        if n < 0x80:
            i += 2
            values_end = i + n
        else:
            i, values_end = span(data, i)
        if values_end != attribute_end or attribute_end > stop:
            raise Malformed("an attribute's lengths disagree")
        values = []
        while i < values_end:
            n = data[i + 1]
            if data[i] != OCTET_STRING:
                raise Malformed("a value is not an octet string")
            if n < 0x80:
                start = i + 2
                i = start + n
            else:
                start, i = span(data, i)
            values.append(data[start:i])
        if i != values_end:
            raise Malformed("a value overruns its attribute")
        attributes[name] = values
    if i != stop:
        raise Malformed("an attribute overruns the entry")
    return dn, attributes
