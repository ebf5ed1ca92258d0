"""How raw LDAP attribute values (bytes) become the strings of a raw frame.

* a text attribute is UTF-8 (RFC 4511); a value that is not valid UTF-8 is written as
  lowercase hex, so a stray binary attribute never stops a run;
* a binary attribute (``LdapSource(binary_attributes=…)``) is converted by name:
  ``objectGUID`` and ``msDS-ConsistencyGuid`` → the standard GUID text form
  ``xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx``, lowercase (AD stores GUIDs little-endian, as
  ``uuid.UUID(bytes_le=…)`` reads them); ``objectSid`` → ``S-1-5-21-…``; any other binary
  attribute, or a GUID/SID of the wrong shape, → lowercase hex.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection

#: Attributes (lower-cased) holding a GUID in Active Directory's byte order.
GUID_ATTRIBUTES = frozenset({"objectguid", "msds-consistencyguid"})
#: Attributes (lower-cased) holding a security identifier.
SID_ATTRIBUTES = frozenset({"objectsid"})

Decoder = Callable[[bytes], str]
ValuesDecoder = Callable[[list[bytes]], list[str]]


def guid_text(raw: bytes) -> str:
    """``objectGUID`` bytes → ``"xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"`` (lowercase); bytes
    that are not 16 long → hex."""
    if len(raw) != 16:
        return raw.hex()
    return str(uuid.UUID(bytes_le=bytes(raw)))


def sid_text(raw: bytes) -> str:
    """``objectSid`` bytes → ``"S-1-5-21-…"`` (MS-DTYP 2.4.2); malformed bytes → hex.

    Layout: revision (1 byte), number of sub-authorities n (1 byte), identifier authority
    (6 bytes, big-endian), n sub-authorities (4 bytes each, little-endian). An authority of
    2**32 or more is written in hex (``0x…``), as Windows does.
    """
    if len(raw) < 8 or len(raw) != 8 + 4 * raw[1]:
        return raw.hex()
    authority = int.from_bytes(raw[2:8], "big")
    parts = [f"S-{raw[0]}", str(authority) if authority < 2**32 else f"0x{authority:012X}"]
    parts.extend(str(int.from_bytes(raw[i:i + 4], "little")) for i in range(8, len(raw), 4))
    return "-".join(parts)


def hex_text(raw: bytes) -> str:
    return raw.hex()


def utf8_text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.hex()


def decoder_for(attribute: str, binary_attributes: Collection[str]) -> Decoder:
    """The conversion for one attribute; names compare case-insensitively."""
    name = attribute.lower()
    if name not in {b.lower() for b in binary_attributes}:
        return utf8_text
    if name in GUID_ATTRIBUTES:
        return guid_text
    if name in SID_ATTRIBUTES:
        return sid_text
    return hex_text


def utf8_texts(raw: list[bytes]) -> list[str]:
    """``utf8_text`` of each value, at the speed of plain decoding when all are UTF-8."""
    try:
        return list(map(bytes.decode, raw))
    except (UnicodeDecodeError, TypeError):  # not UTF-8, or not ``bytes`` (bytearray, memoryview)
        return [utf8_text(v) for v in raw]


def values_decoder_for(attribute: str, binary_attributes: Collection[str]) -> ValuesDecoder:
    """The conversion of all the values of one attribute: ``decoder_for`` on each value."""
    decode = decoder_for(attribute, binary_attributes)
    if decode is utf8_text:
        return utf8_texts
    return lambda raw: [decode(v) for v in raw]
