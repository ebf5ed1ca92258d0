"""Fixtures: a real nusoap server standing in for Chamilo (see ``chamilo_standin``).

* ``chamilo_server`` (session): the 1.11.6 stand-in, started once.
* ``chamilo`` (function): the same server, emptied (users, extra fields, calls, faults) before
  the test.
* ``chamilo_standin_factory`` (session): ``factory(variant="1.9")`` starts another stand-in
  (one per variant, reused within the session).
* ``chamilo_19`` (function): the 1.9 variant, emptied before the test.
* ``make_soap_client`` (function): ``make_soap_client(standin, **overrides)`` builds a
  ``SoapChamiloClient`` for a stand-in with fast retries; closed after the test.

Without php-cli / php-sqlite3 / php-xml / libnusoap-php the tests are skipped with the reason,
except in CI (``CI=true``) where they fail.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from tests.support.chamilo_standin import ChamiloStandin, StandinUnavailable


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"Chamilo stand-in cannot run in CI: {reason}", pytrace=False)
    pytest.skip(f"Chamilo stand-in skipped: {reason}")


@pytest.fixture(scope="session")
def chamilo_standin_factory(tmp_path_factory) -> Iterator[Callable[..., ChamiloStandin]]:
    started: dict[str, ChamiloStandin] = {}

    def factory(variant: str = "1.11") -> ChamiloStandin:
        if variant not in started:
            standin = ChamiloStandin(tmp_path_factory.mktemp(f"chamilo-{variant}"), variant=variant)
            try:
                standin.start()
            except StandinUnavailable as exc:
                _unavailable(str(exc))
            started[variant] = standin
        return started[variant]

    yield factory
    for standin in started.values():
        standin.stop()


@pytest.fixture(scope="session")
def chamilo_server(chamilo_standin_factory) -> ChamiloStandin:
    return chamilo_standin_factory("1.11")


@pytest.fixture
def chamilo(chamilo_server: ChamiloStandin) -> ChamiloStandin:
    chamilo_server.reset()
    return chamilo_server


@pytest.fixture
def chamilo_19(chamilo_standin_factory) -> ChamiloStandin:
    standin = chamilo_standin_factory("1.9")
    standin.reset()
    return standin


@pytest.fixture
def make_soap_client() -> Iterator[Callable[..., object]]:
    from sync.chamilo.soap_client import SoapChamiloClient

    clients: list[SoapChamiloClient] = []

    def make(standin: ChamiloStandin, **overrides) -> SoapChamiloClient:
        options = dict(security_key=standin.security_key, client_ip=standin.client_ip,
                       original_user_id_name=standin.original_user_id_name,
                       timeout=10, retries=3, backoff=0.01, max_retry_seconds=5)
        options.update(overrides)
        url = options.pop("url", standin.url)
        client = SoapChamiloClient(url, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
