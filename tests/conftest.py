"""Fixtures shared by the whole suite live in tests/support/*_fixtures.py (one module per real
service), loaded here as plugins."""

pytest_plugins = [
    "tests.support.chamilo_fixtures",
    "tests.support.ldap_fixtures",
    "tests.support.postgres_fixtures",
]
