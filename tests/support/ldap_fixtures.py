"""Fixtures: a real OpenLDAP slapd for the whole session (see ``slapd_server`` for the server,
``ldap_directory`` for what is in it).

* ``ldap_server`` (session): the running server, with admin helpers ``add``, ``modify``,
  ``delete``. Tests must not change its data except below ``ldap_scratch``.
* ``ldap_scratch`` (function): a fresh OU below ``ou=scratch`` for mutable tests, removed with
  everything under it afterwards.
* ``ldap_dropping_proxy`` (function): a TCP proxy to the server's ``ldap://`` port that cuts
  the connection when the client sends a request after the server has sent a given number
  of bytes (i.e. between pages).
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import ldap3
import pytest

from tests.support import ldap_directory
from tests.support.slapd_server import SLAPD, SlapdServer, start_slapd

MANAGE_DSA_IT = ("2.16.840.1.113730.3.4.2", True, None)  # act on referral objects themselves


class LdapServer:
    """The session's slapd plus admin helpers (rootdn, bypasses limits and ACLs)."""

    def __init__(self, server: SlapdServer) -> None:
        self.server = server
        self.url, self.ldaps_url, self.ca_file = server.url, server.ldaps_url, server.ca_file
        self.base_dn, self.bind_dn = server.base_dn, server.bind_dn
        self.bind_password = server.bind_password
        self.people_dn, self.ad_dn = ldap_directory.PEOPLE_DN, ldap_directory.AD_DN
        self.empty_dn = ldap_directory.EMPTY_DN
        self._admin: ldap3.Connection | None = None

    @property
    def admin(self) -> ldap3.Connection:
        if self._admin is None or self._admin.closed:
            self._admin = ldap3.Connection(
                ldap3.Server(self.url, get_info=ldap3.NONE), self.server.admin_dn,
                self.server.admin_password, auto_bind=True, raise_exceptions=True)
        return self._admin

    def add(self, dn: str, attributes: Mapping[str, str | bytes | Iterable[str | bytes]]) -> str:
        self.admin.add(dn, attributes=dict(attributes), controls=[MANAGE_DSA_IT])
        return dn

    def modify(self, dn: str, replace: Mapping[str, Iterable[str | bytes]]) -> None:
        changes = {a: [(ldap3.MODIFY_REPLACE, list(v))] for a, v in replace.items()}
        self.admin.modify(dn, changes, controls=[MANAGE_DSA_IT])

    def delete(self, dn: str) -> None:
        """Delete ``dn`` and everything below it."""
        self.admin.search(dn, "(objectClass=*)", ldap3.SUBTREE, attributes=["1.1"],
                          controls=[MANAGE_DSA_IT])
        for found in sorted((e["dn"] for e in self.admin.response if e["type"] == "searchResEntry"),
                            key=lambda d: -d.count(",")):
            self.admin.delete(found, controls=[MANAGE_DSA_IT])

    def close(self) -> None:
        if self._admin is not None:
            self._admin.unbind()
        self.server.stop()


@dataclass
class ScratchOu:
    dn: str
    server: LdapServer

    def add(self, rdn: str, attributes: Mapping) -> str:
        return self.server.add(f"{rdn},{self.dn}", attributes)


@pytest.fixture(scope="session")
def ldap_server(tmp_path_factory):
    if shutil.which(SLAPD) is None:
        reason = "OpenLDAP slapd is not installed (Debian package slapd)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"LDAP tests cannot run in CI: {reason}", pytrace=False)
        pytest.skip(reason)
    server = LdapServer(start_slapd(tmp_path_factory.mktemp("slapd")))
    yield server
    server.close()


_scratch_numbers = itertools.count()


@pytest.fixture
def ldap_scratch(ldap_server):
    dn = f"ou=t{next(_scratch_numbers)},{ldap_directory.SCRATCH_DN}"
    ldap_server.add(dn, {"objectClass": ["organizationalUnit"], "ou": dn[3:dn.index(",")]})
    yield ScratchOu(dn, ldap_server)
    ldap_server.delete(dn)


class DroppingProxy:
    """Forwards 127.0.0.1:<port> to the server; once the server has sent ``after_bytes``, the
    next request from the client makes it close both sides instead of forwarding."""

    def __init__(self, target_url: str, after_bytes: int) -> None:
        parts = urlsplit(target_url)
        self.target = (parts.hostname, parts.port)
        self.after_bytes = after_bytes
        self.dropped = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"ldap://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            sent = [0]
            threading.Thread(target=self._pump, args=(upstream, client, sent), daemon=True).start()
            threading.Thread(target=self._pump, args=(client, upstream, sent, True),
                             daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, sent: list, from_client=False):
        try:
            while data := src.recv(65536):
                if from_client and sent[0] >= self.after_bytes:
                    self.dropped.set()
                    break
                dst.sendall(data)
                if not from_client:
                    sent[0] += len(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self) -> None:
        self._listener.close()


@pytest.fixture
def ldap_dropping_proxy(ldap_server):
    proxies: list[DroppingProxy] = []

    def make(after_bytes: int) -> DroppingProxy:
        proxies.append(DroppingProxy(ldap_server.url, after_bytes))
        return proxies[-1]

    yield make
    for proxy in proxies:
        proxy.close()
