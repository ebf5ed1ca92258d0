"""Schema versioning of the SQL state store on SQLite: migrations run once, in order."""

from __future__ import annotations

from sqlalchemy import create_engine, inspect, select, text

from sync.state import schema
from sync.state.sql_store import SqlStateStore


def _version(conn) -> str:
    return conn.execute(
        select(schema.meta.c.value).where(schema.meta.c.name == "schema_version")
    ).scalar()


def _make_v1(url: str) -> None:
    store = SqlStateStore(url)
    store.history(1)  # first use creates the schema
    store.close()


def test_a_fresh_database_gets_every_table_at_the_current_version(tmp_path):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    _make_v1(url)
    engine = create_engine(url)
    with engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) == {"meta", "users", "runs", "lock", "journal"}
        assert _version(conn) == str(schema.SCHEMA_VERSION)
    engine.dispose()


def test_an_older_database_is_migrated_once_in_order(tmp_path):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    _make_v1(url)
    calls = []

    def to_v2(conn):
        calls.append(2)
        conn.execute(text("ALTER TABLE users ADD COLUMN note TEXT"))

    def to_v3(conn):
        calls.append(3)
        conn.execute(text("UPDATE users SET note = 'v3'"))

    engine = create_engine(url)
    with engine.begin() as conn:
        assert schema.ensure_schema(conn, "test", migrations=(to_v2, to_v3)) == 3
    with engine.begin() as conn:
        assert schema.ensure_schema(conn, "test", migrations=(to_v2, to_v3)) == 3
        assert "note" in {c["name"] for c in inspect(conn).get_columns("users")}
        assert _version(conn) == "3"
    engine.dispose()
    assert calls == [2, 3]


def test_a_failed_migration_leaves_the_version_unchanged(tmp_path):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    _make_v1(url)

    def broken(conn):
        raise RuntimeError("migration bug")

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            schema.ensure_schema(conn, "test", migrations=(broken,))
    except RuntimeError:
        pass
    with engine.connect() as conn:
        assert _version(conn) == "1"
    engine.dispose()
