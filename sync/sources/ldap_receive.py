"""A leaner way for one ldap3 connection to receive its responses.

Reading 50 000 entries through ldap3's synchronous strategy spends most of its time in
pure-Python work that the source does not need: receiving in 4 KiB pieces and re-slicing
the unprocessed bytes after every message, a generic BER decoder building a tuple for every
element, and two case-insensitive dicts per entry with values run through the schema
formatters. ``use_lean_responses(conn)`` replaces, on that connection's strategy object only,
``_get_response`` (the loop that reads the socket until an operation's final message) with
one that:

* receives in large pieces and cuts complete LDAPMessages out of the bytes itself;
* decodes each plain SearchResultEntry of the awaited operation with
  ``sync.sources.ldap_entries.read_entry`` into
  ``{"type": "searchResEntry", "dn": str, "raw_attributes": {lower-cased name: [bytes]}}``;
* hands every other message (bind, search and extended results, continuation references,
  entries carrying controls or of another shape) to ldap3's own ``decode_message_fast`` and
  ``decode_response_fast``, so result codes, referrals, paging and other controls come out
  exactly as ldap3 builds them;
* then treats each message as ldap3 2.9's ``SyncStrategy._get_response`` does: collected
  until the final message of the awaited operation, a Notice of Disconnection ends the
  session, any other message ID is an error, a receive error closes the connection and
  raises ``LDAPSocketReceiveError``, and a closed connection is "session terminated".

Everything above it (``get_response``, ``Connection.search``, the result and paging control
decoding) is ldap3's. It applies to the synchronous strategy with the fast decoder and without
a SASL security layer (ldap3 2.9's layout; the dependency is pinned below 3);
``tests/integration/test_ldap_source.py`` compares the frames it gives with ldap3's stock
decoding against a real slapd, ``tests/unit/test_ldap_receive.py`` its answers with ldap3's
on hand-built byte streams (odd shapes, notices, lost connections). The connection's ``return_empty_attributes`` and ``auto_range``
are turned off: both post-process ldap3's full entries (the source fills missing attributes
itself and refuses range-tagged ones).
"""

from __future__ import annotations

import ldap3
from ldap3.core.exceptions import (
    LDAPExceptionError,
    LDAPExtensionError,
    LDAPSocketReceiveError,
    communication_exception_factory,
)
from ldap3.strategy.base import (
    RESPONSE_COMPLETE,
    SESSION_TERMINATED_BY_SERVER,
    TRANSACTION_ERROR,
)
from ldap3.strategy.sync import SyncStrategy
from ldap3.utils.asn1 import decode_message_fast

from sync.sources.ldap_entries import SEARCH_RESULT_ENTRY, Malformed, read_entry, span

#: Bytes asked of the socket at a time (ldap3 asks for 4096).
RECEIVE_SIZE = 256 * 1024
INTEGER = 0x02
NOTICE_OF_DISCONNECTION = "1.3.6.1.4.1.1466.20036"  # RFC 4511 §4.4.1
NOVELL_TRANSACTION_ERROR = "2.16.840.1.113719.1.27.103.4"
_NOT_FINAL = frozenset({"searchResEntry", "searchResRef", "intermediateResponse"})


def use_lean_responses(conn: ldap3.Connection) -> bool:
    """Install the lean receiving on ``conn``; ``False`` (nothing changed) when the connection
    is not one it applies to."""
    strategy = conn.strategy
    if type(strategy) is not SyncStrategy or not conn.fast_decoder or conn.sasl_mechanism:
        return False
    strategy._get_response = _LeanReceiver(strategy).get_response
    conn.empty_attributes = False
    conn.auto_range = False
    return True


class _LeanReceiver:
    def __init__(self, strategy: SyncStrategy) -> None:
        self.strategy = strategy
        self.connection = strategy.connection
        self.names: dict[bytes, str] = {}  # attribute names already decoded

    def get_response(self, message_id: int, timeout=None):
        """The decoded messages of operation ``message_id`` up to its final one, followed by
        ``RESPONSE_COMPLETE``; or ``SESSION_TERMINATED_BY_SERVER`` / ``TRANSACTION_ERROR``."""
        responses: list = []
        complete = False
        parts: list[bytes] = []  # received bytes not yet cut into messages
        size = need = 0  # their length; the length that completes the next message
        while not complete or parts:
            chunk = self._receive()
            if not chunk:
                if complete:
                    break
                return SESSION_TERMINATED_BY_SERVER
            parts.append(chunk)
            size += len(chunk)
            if size < need:
                continue  # one large message: join its pieces once, when all are there
            data = b"".join(parts) if len(parts) > 1 else chunk
            pos = 0
            while True:
                if size - pos < 2:
                    need = 2
                    break
                n = data[pos + 1]
                if n < 0x80:
                    body = pos + 2
                    end = body + n
                else:
                    if not 0x80 < n <= 0x88:
                        self._fail(LDAPSocketReceiveError, "invalid BER length received")
                    body = pos + 2 + (n - 0x80)
                    if body > size:
                        need = body - pos
                        break
                    end = body + int.from_bytes(data[pos + 2:body], "big")
                if end > size:
                    need = end - pos
                    break
                if self.connection.usage:
                    self.connection._usage.update_received_message(end - pos)
                response, response_id = self._decode(data, pos, body, end, message_id)
                pos = end
                if response_id != message_id:
                    return self._unsolicited(response, response_id)
                responses.append(response)
                if response["type"] not in _NOT_FINAL:
                    complete = True
            parts = [data[pos:]] if pos < size else []
            size -= pos
        responses.append(RESPONSE_COMPLETE)
        return responses

    def _unsolicited(self, response: dict, response_id: int):
        """As ldap3 treats a message for another operation than the awaited one."""
        if response_id == 0:  # unsolicited notification, RFC 4511 §4.4
            name = response.get("responseName")
            if name == NOTICE_OF_DISCONNECTION:
                return SESSION_TERMINATED_BY_SERVER
            if name == NOVELL_TRANSACTION_ERROR:
                return TRANSACTION_ERROR
            self._fail(LDAPSocketReceiveError, "unknown unsolicited notification from server")
        if response["type"] == "extendedResp":
            self._fail(LDAPExtensionError,
                       "multiple extended responses to a single extended request")
        self._fail(LDAPSocketReceiveError, "invalid messageId received")

    def _decode(self, data: bytes, pos: int, body: int, end: int, message_id: int):
        """The message in ``data[pos:end]`` (content from ``body``) as ldap3's dict, and its
        message ID."""
        try:
            if data[body] == INTEGER and data[body + 1] <= 4:
                op = body + 2 + data[body + 1]
                if data[op] == SEARCH_RESULT_ENTRY and \
                        int.from_bytes(data[body + 2:op], "big", signed=True) == message_id:
                    start, stop = span(data, op)
                    if stop == end:  # no controls
                        dn, attributes = read_entry(data, start, stop, self.names)
                        return ({"type": "searchResEntry", "dn": dn,
                                 "raw_attributes": attributes}, message_id)
        except (Malformed, IndexError):
            pass  # ldap3 decodes it, or says what is wrong with it
        message = decode_message_fast(data[pos:end])
        return self.strategy.decode_response_fast(message), message["messageID"]

    def _receive(self) -> bytes:
        """As ldap3's ``SyncStrategy.receiving`` reads: a failure closes the connection and
        raises ``LDAPSocketReceiveError`` (of the original exception's type too)."""
        try:
            return self.connection.socket.recv(RECEIVE_SIZE)
        except (OSError, AttributeError) as exc:
            self.connection.last_error = f"error receiving data: {exc}"
            try:
                self.strategy.close()
            except (OSError, LDAPExceptionError):
                pass
            raise communication_exception_factory(LDAPSocketReceiveError, type(exc)(str(exc)))(
                self.connection.last_error) from None

    def _fail(self, error: type[Exception], what: str) -> None:
        self.connection.last_error = what
        raise error(what)
