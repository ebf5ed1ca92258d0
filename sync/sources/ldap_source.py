"""An LDAP or Active Directory source: one paged search, read whole or not at all (SPEC §2, §3,
§7).

The search runs on ``base_dn`` with ``filter`` and ``scope``, RFC 2696 paged (the control is
sent critical, so a server that cannot page refuses instead of truncating), asking only for
the ``attributes`` the mapping needs (``None``: every user attribute). Aliases are not
dereferenced and referrals are not followed.

Frame (``SourceData.frame``, kind ``"ldap"``): one row per entry in server order; one column
per requested attribute, named in lower case; every cell a ``list[str]`` in the order the
server returned the values (``[]`` when the entry lacks the attribute); plus
``sync.model.LOCATOR`` holding the entry's DN. Values are converted by
``sync.sources.ldap_values``, columns built by ``sync.sources.ldap_frame``; responses are
received and search entries decoded by ``sync.sources.ldap_receive`` (ldap3 does the rest).

Anything but a complete answer raises ``SourceError`` naming the source, URL and base DN:
connection or TLS failure, refused bind, a search error, any result code other than success
on any page (size, time or administrative limit, referral), a continuation reference, a
paging control missing from an answer, a connection dropped between pages, and an empty
result. The bind password never appears in a message.
"""

from __future__ import annotations

import ipaddress
import re
import ssl
from collections.abc import Iterator, Sequence
from urllib.parse import urlsplit

import ldap3
import pandas as pd
from ldap3.core.exceptions import LDAPCommunicationError, LDAPException

from sync.errors import ConfigError, SourceError
from sync.model import LOCATOR, SourceData
from sync.sources.ldap_frame import all_columns, collector_paused, requested_columns
from sync.sources.ldap_receive import use_lean_responses

PAGED_RESULTS = "1.2.840.113556.1.4.319"
_SCOPES = {"subtree": ldap3.SUBTREE, "one": ldap3.LEVEL}
#: Result codes that mean "the server stopped before the end": the result may be truncated.
_TRUNCATING = {3: "time limit exceeded", 4: "size limit exceeded",
               10: "a referral the tool does not follow", 11: "administrative limit exceeded"}


class LdapSource:
    """Reads people from an LDAP directory. ``page_size=0`` turns paging off (one plain
    search, subject to the server's size limit)."""

    def __init__(self, name: str, url: str, base_dn: str, *, bind_dn: str | None = None,
                 bind_password: str | None = None, filter: str = "(objectClass=*)",
                 scope: str = "subtree", page_size: int = 500, ca_file: str | None = None,
                 verify_tls: bool = True, start_tls: bool = False,
                 attributes: Sequence[str] | None = None,
                 binary_attributes: Sequence[str] = ("objectGUID", "objectSid"),
                 timeout: float = 30) -> None:
        self.name = name
        self.url = url
        self.base_dn = base_dn
        self.bind_dn = bind_dn
        self._password = bind_password
        self.filter = filter
        self.scope = scope
        self.page_size = page_size
        self.ca_file = ca_file
        self.verify_tls = verify_tls
        self.start_tls = start_tls
        self.attributes = None if attributes is None else _unique_lower(attributes)
        self.binary_attributes = tuple(binary_attributes)
        self.timeout = max(1, int(round(timeout)))  # ldap3 packs it into SO_RCVTIMEO: whole seconds
        self._parts = urlsplit(url.strip())
        self._check_settings()

    def __repr__(self) -> str:
        return f"LdapSource(name={self.name!r}, url={self.url!r}, base_dn={self.base_dn!r})"

    @property
    def origin(self) -> str:
        return f"{self.url.rstrip('/')}/{self.base_dn}"

    def read(self) -> SourceData:
        """The whole search result as a raw frame, or ``SourceError``."""
        with collector_paused():
            if self.attributes is None:
                dns, columns = all_columns(self._pages(["*"]), self.binary_attributes,
                                           self._refuse_ranges)
            else:
                dns, columns = requested_columns(self._pages(list(self.attributes)),
                                                 self.attributes, self.binary_attributes,
                                                 self._refuse_ranges)
            if not dns:
                raise self._empty()
            frame = pd.DataFrame({**columns, LOCATOR: dns}, columns=[*columns, LOCATOR])
        return SourceData(name=self.name, kind="ldap", frame=frame, origin=self.origin)

    def count(self) -> int:
        """Bind and count the entries ``read`` would return, under the same rules (an empty or
        possibly truncated result raises ``SourceError``); no attribute is fetched."""
        total = sum(len(page) for page in self._pages(["1.1"]))
        if not total:
            raise self._empty()
        return total

    # -- the search ------------------------------------------------------------------------

    def _pages(self, attributes: list[str]) -> Iterator[list[dict]]:
        """Each page's entries; raises as soon as an answer is not a clean success."""
        conn = self._connect()
        try:
            cookie, seen, page = None, 0, 0
            while True:
                page += 1
                try:
                    conn.search(self.base_dn, self.filter, _SCOPES[self.scope],
                                dereference_aliases=ldap3.DEREF_NEVER, attributes=attributes,
                                paged_size=self.page_size or None, paged_criticality=True,
                                paged_cookie=cookie)
                except (LDAPCommunicationError, OSError) as exc:
                    raise self._error(f"the connection failed while reading page {page} "
                                      f"after {seen} entries: {_describe(exc)}") from None
                except LDAPException as exc:  # refused by ldap3 before sending: filter, DN…
                    raise self._error(f"the search cannot be sent: {_describe(exc)}") from None
                entries = []
                for item in conn.response or ():
                    if item.get("type") == "searchResEntry":
                        entries.append(item)
                    elif item.get("type") == "searchResRef":
                        raise self._error(
                            f"the search returned a referral to {', '.join(item.get('uri') or [])}"
                            " that is not followed; the result would be incomplete")
                seen += len(entries)
                result = conn.result or {}
                self._check_result(result, page, seen)
                yield entries
                if not self.page_size:
                    return
                cookie = self._next_cookie(result, page)
                if not cookie:
                    return
        finally:
            _close(conn)

    def _check_result(self, result: dict, page: int, seen: int) -> None:
        code = result.get("result")
        if code == 0:
            return
        what = f"{result.get('description')} ({code}){_server_says(result)}"
        if code in _TRUNCATING:
            refs = result.get("referrals") or []
            where = f" to {', '.join(refs)}" if refs else ""
            raise self._error(f"the search stopped on page {page} after {seen} entries with "
                              f"{_TRUNCATING[code]}{where}: {what}; the result may be "
                              "truncated, so nothing is used")
        raise self._error(f"the search failed on page {page}: {what}")

    def _next_cookie(self, result: dict, page: int) -> bytes:
        control = (result.get("controls") or {}).get(PAGED_RESULTS)
        try:
            return control["value"]["cookie"]
        except (TypeError, KeyError):
            raise self._error(f"the server answered page {page} without the paged-results "
                              "control, so the result cannot be known to be complete") from None

    def _connect(self) -> ldap3.Connection:
        parts = self._parts
        tls = ldap3.Tls(validate=ssl.CERT_REQUIRED if self.verify_tls else ssl.CERT_NONE,
                        ca_certs_file=self.ca_file, sni=_sni(parts.hostname))
        server = ldap3.Server(parts.hostname, port=parts.port, use_ssl=parts.scheme == "ldaps",
                              tls=tls, get_info=ldap3.NONE, connect_timeout=self.timeout)
        anonymous = self.bind_dn is None
        conn = ldap3.Connection(
            server, user=self.bind_dn, password=self._password,
            authentication=ldap3.ANONYMOUS if anonymous else ldap3.SIMPLE,
            client_strategy=ldap3.SYNC, read_only=True, auto_referrals=False,
            raise_exceptions=False, receive_timeout=self.timeout)
        use_lean_responses(conn)
        who = "anonymously" if anonymous else f"as {self.bind_dn}"
        step = "cannot connect"
        try:
            conn.open()
            if self.start_tls:
                step = "StartTLS failed"
                conn.start_tls()
            step = f"the bind {who} failed"
            bound = conn.bind()
        except (LDAPException, OSError) as exc:
            _close(conn)
            raise self._error(f"{step}: {_describe(exc)}") from None
        if not bound:
            result = conn.result or {}
            _close(conn)
            raise self._error(f"the bind {who} was refused: {result.get('description')} "
                              f"({result.get('result')}){_server_says(result)}")
        return conn

    # -- values and messages ---------------------------------------------------------------

    def _refuse_ranges(self, dn: str, name: str, key: str) -> None:
        """An attribute sent in ranges (AD range retrieval: ``member;range=0-1499``) holds
        only part of its values: refuse rather than read them as complete or missing."""
        raise self._error(f"entry {dn} returned {key}: the server sends this attribute "
                          "in ranges, which the tool does not follow; its values would "
                          "be incomplete")

    def _empty(self) -> SourceError:
        return self._error(f"the search {self.filter} ({self.scope}) returned no entries; "
                           "refusing to continue, since every managed user would look gone")

    def _error(self, what: str) -> SourceError:
        if self._password:
            what = what.replace(self._password, "********")
        return SourceError(f"LDAP source {self.name!r} ({self.url}, base {self.base_dn}): {what}")

    def _check_settings(self) -> None:
        where = f"source {self.name!r}"
        problems = []
        if self._parts.scheme not in ("ldap", "ldaps") or not self._parts.hostname:
            problems.append(f"{where}: url {self.url!r} must be ldap://host[:port] or ldaps://…")
        else:
            try:
                self._parts.port
            except ValueError:
                problems.append(f"{where}: url {self.url!r} has an invalid port")
        if self._parts.scheme == "ldaps" and self.start_tls:
            problems.append(f"{where}: start_tls applies to ldap:// URLs, not ldaps://")
        if self.scope not in _SCOPES:
            problems.append(f"{where}: scope must be 'subtree' or 'one', not {self.scope!r}")
        if not isinstance(self.page_size, int) or self.page_size < 0:
            problems.append(f"{where}: page_size must be a whole number ≥ 0 (0: no paging)")
        if self.bind_dn is not None and not self._password:
            problems.append(f"{where}: bind_dn is set but the bind password is empty (an "
                            "empty password would be an unauthenticated bind)")
        if self.attributes is not None and not self.attributes:
            problems.append(f"{where}: no attribute to read")
        if problems:
            raise ConfigError(problems)


def _unique_lower(names: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(n.strip().lower() for n in names))


def _server_says(result: dict) -> str:
    message = (result.get("message") or "").strip()
    return f" (server: {message})" if message else ""


def _describe(exc: BaseException) -> str:
    """``Type: message``, without the tuple reprs ldap3 wraps some messages in."""
    text = str(exc)
    while match := re.fullmatch(r"""\((["'])(.*)\1,\)""", text, re.S):
        text = match.group(2)
    return f"{type(exc).__name__}: {text}"


def _sni(host: str | None) -> str | None:
    try:
        ipaddress.ip_address(host or "")
    except ValueError:
        return host
    return None


def _close(conn: ldap3.Connection) -> None:
    try:
        conn.unbind()
    except (LDAPException, OSError):
        pass
