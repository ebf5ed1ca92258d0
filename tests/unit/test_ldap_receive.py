"""The lean receiving (sync.sources.ldap_receive) against ldap3's own ``_get_response``, on
hand-built BER byte streams served by a fake socket: messages the real server is not easily
made to send (entries with controls, shapes the lean decoder leaves to ldap3, unsolicited
notifications, stray message IDs, a connection lost mid-message)."""

from __future__ import annotations

import ldap3
import pytest
from ldap3.core.exceptions import LDAPSocketReceiveError
from ldap3.strategy.base import RESPONSE_COMPLETE, SESSION_TERMINATED_BY_SERVER

from sync.sources import ldap_receive
from sync.sources.ldap_receive import use_lean_responses
from sync.sources.ldap_source import PAGED_RESULTS

SEARCH_ID = 2

# -- BER, by hand -------------------------------------------------------------------------


def tlv(tag: int, *parts: bytes, width: int | None = None) -> bytes:
    """One element; ``width`` forces a long-form length of that many bytes."""
    content = b"".join(parts)
    n = len(content)
    if n < 0x80 and width is None:
        return bytes([tag, n]) + content
    raw = n.to_bytes(width or (n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(raw)]) + raw + content


def octets(value: str | bytes, **kw) -> bytes:
    return tlv(0x04, value.encode() if isinstance(value, str) else value, **kw)


def integer(value: int, tag: int = 0x02) -> bytes:
    return tlv(tag, value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big", signed=True))


def message(op: bytes, message_id: int = SEARCH_ID, controls: bytes | None = None) -> bytes:
    return tlv(0x30, integer(message_id), op, *([tlv(0xA0, controls)] if controls else []))


def entry(dn: str, attributes: dict[str, list], **kw) -> bytes:
    return message(tlv(0x64, octets(dn), tlv(0x30, *(
        tlv(0x30, octets(name), tlv(0x31, *(octets(v) for v in values)))
        for name, values in attributes.items()))), **kw)


def paged(cookie: bytes) -> bytes:
    value = tlv(0x30, integer(0), octets(cookie))
    return tlv(0x30, octets(PAGED_RESULTS), octets(value))


def done(code: int = 0, cookie: bytes | None = b"", text: str = "") -> bytes:
    result = tlv(0x65, integer(code, 0x0A), octets(""), octets(text))
    return message(result, controls=None if cookie is None else paged(cookie))


def reference(*uris: str) -> bytes:
    return message(tlv(0x73, *(octets(u) for u in uris)))


def notice_of_disconnection() -> bytes:
    op = tlv(0x78, integer(52, 0x0A), octets(""), octets("bye"),
             tlv(0x8A, ldap_receive.NOTICE_OF_DISCONNECTION.encode()))
    return message(op, message_id=0)


PAGE = b"".join([
    entry("uid=élodie,ou=people,dc=x", {"uid": ["élodie"], "givenName": ["Élodie"],
                                        "mail": ["zz@x.org", "aa@x.org", ""]}),
    entry("uid=bin,ou=people,dc=x", {"objectGUID": [bytes(range(16))],
                                     "audio": [bytes(range(256)) * 300],
                                     "description": [f"v{i}" * 50 for i in range(300)]}),
    tlv(0x30, integer(SEARCH_ID), tlv(0x64, octets("uid=long,dc=x", width=2),
                                      tlv(0x30, tlv(0x30, octets("CN", width=1),
                                                    tlv(0x31, octets("c", width=3)), width=4),
                                          width=1), width=2), width=3),
    entry("uid=none,ou=people,dc=x", {}),
    reference("ldap://dc2.example.edu/ou=people,dc=x"),
    done(cookie=b"next-page"),
])

# -- running both ------------------------------------------------------------------------


class FakeSocket:
    """Serves ``stream`` at most ``piece`` bytes per ``recv``; then EOF, or ``error``."""

    def __init__(self, stream: bytes, piece: int, error: Exception | None = None) -> None:
        self.stream, self.piece, self.error = stream, piece, error

    def recv(self, size: int) -> bytes:
        if not self.stream and self.error:
            raise self.error
        size = min(size, self.piece)
        chunk, self.stream = self.stream[:size], self.stream[size:]
        return chunk

    def close(self) -> None:
        pass


def receive(stream: bytes, *, lean: bool, piece: int = 1 << 30, error=None):
    conn = ldap3.Connection(ldap3.Server("127.0.0.1", get_info=ldap3.NONE),
                            client_strategy=ldap3.SYNC, raise_exceptions=False)
    conn.socket = FakeSocket(stream, piece, error)
    if lean:
        assert use_lean_responses(conn)
    return comparable(conn.strategy._get_response(SEARCH_ID, None))


def comparable(responses):
    """Entries as (dn, {lower-cased name: values}); everything else as ldap3 built it."""
    if not isinstance(responses, list):
        return responses
    return [("entry", r["dn"], {k.lower(): v for k, v in r["raw_attributes"].items()})
            if isinstance(r, dict) and r.get("type") == "searchResEntry" else r
            for r in responses]


@pytest.fixture
def ldap3_decoded(monkeypatch):
    """The messages the lean receiving handed to ldap3's decoder."""
    seen = []
    stock = ldap_receive.decode_message_fast
    monkeypatch.setattr(ldap_receive, "decode_message_fast",
                        lambda data: seen.append(stock(data)) or seen[-1])
    return seen


# -- the same answers ---------------------------------------------------------------------


@pytest.mark.parametrize("piece", [1 << 30, 4096, 300, 7, 1])
def test_a_page_gives_what_ldap3_gives_however_it_arrives(piece, ldap3_decoded):
    lean = receive(PAGE, lean=True, piece=piece)
    assert lean == receive(PAGE, lean=False, piece=piece)
    assert lean[-1] == RESPONSE_COMPLETE and lean[-2]["type"] == "searchResDone"
    assert lean[0] == ("entry", "uid=élodie,ou=people,dc=x",
                       {"uid": [b"\xc3\xa9lodie"], "givenname": ["Élodie".encode()],
                        "mail": [b"zz@x.org", b"aa@x.org", b""]})
    assert lean[2] == ("entry", "uid=long,dc=x", {"cn": [b"c"]})
    assert lean[3] == ("entry", "uid=none,ou=people,dc=x", {})
    # only the reference and the result went through ldap3's decoder
    assert [m["protocolOp"] for m in ldap3_decoded] == [19, 5]


@pytest.mark.parametrize("odd", [
    entry("uid=c,dc=x", {"uid": ["c"]}, controls=paged(b"x")),  # an entry with controls
    message(tlv(0x64, octets("uid=i,dc=x"), tlv(0x30, tlv(0x30, octets("uid"),
                                                          tlv(0x31, integer(5)))))),
    message(tlv(0x64, octets("uid=s,dc=x"), tlv(0x31, tlv(0x30, octets("uid"),
                                                          tlv(0x31, octets("s")))))),
    message(tlv(0x64, octets("uid=q,dc=x"), tlv(0x30, tlv(0x30, octets("uid"),
                                                          tlv(0x30, octets("q")))))),
], ids=["controls", "integer-value", "set-of-attributes", "sequence-of-values"])
def test_entries_of_another_shape_are_left_to_ldap3(odd, ldap3_decoded):
    stream = odd + done()
    lean = receive(stream, lean=True)
    assert lean == receive(stream, lean=False)
    assert [m["protocolOp"] for m in ldap3_decoded] == [4, 5]


def test_a_notice_of_disconnection_ends_the_session_as_in_ldap3():
    stream = entry("uid=a,dc=x", {"uid": ["a"]}) + notice_of_disconnection()
    assert receive(stream, lean=True) == receive(stream, lean=False) \
        == SESSION_TERMINATED_BY_SERVER


@pytest.mark.parametrize("cut", [0, 1, 5, len(PAGE) // 2, len(PAGE) - 1])
def test_a_connection_closed_before_the_result_ends_the_session_as_in_ldap3(cut):
    assert receive(PAGE[:cut], lean=True) == receive(PAGE[:cut], lean=False) \
        == SESSION_TERMINATED_BY_SERVER


@pytest.mark.parametrize("stream", [
    entry("uid=a,dc=x", {"uid": ["a"]}, message_id=SEARCH_ID + 1) + done(),
    message(tlv(0x65, integer(0, 0x0A), octets(""), octets("")), message_id=9),
], ids=["entry", "result"])
def test_a_message_for_another_operation_is_an_error_as_in_ldap3(stream):
    for lean in (True, False):
        with pytest.raises(LDAPSocketReceiveError, match="invalid messageId"):
            receive(stream, lean=lean)


def test_a_receive_error_is_raised_as_in_ldap3():
    for lean in (True, False):
        with pytest.raises(LDAPSocketReceiveError, match="error receiving data: reset") as caught:
            receive(PAGE[:100], lean=lean, error=ConnectionResetError("reset"))
        assert isinstance(caught.value, ConnectionResetError)


def test_only_the_synchronous_fast_decoding_strategy_is_replaced():
    server = ldap3.Server("127.0.0.1", get_info=ldap3.NONE)
    assert not use_lean_responses(ldap3.Connection(server, fast_decoder=False))
    assert not use_lean_responses(ldap3.Connection(server, client_strategy=ldap3.RESTARTABLE))
    conn = ldap3.Connection(server, client_strategy=ldap3.SYNC)
    assert use_lean_responses(conn)
    assert (conn.empty_attributes, conn.auto_range) == (False, False)
