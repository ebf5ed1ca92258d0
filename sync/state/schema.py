"""The state store's tables (SQLAlchemy Core) and their versioning.

The ``meta`` table holds ``schema_version``. A fresh database gets every table of
:data:`metadata` at once and version :data:`SCHEMA_VERSION`; an older one is brought up to it
by :data:`MIGRATIONS`, each step in the same transaction as the version bump. A database
written by a newer chamilo-sync is refused rather than misread.

To change the schema: change the tables below (they always describe the newest version),
append a function to :data:`MIGRATIONS` that brings a database of the previous version to the
new one (``ALTER TABLE …`` through ``conn``), and that is all: ``SCHEMA_VERSION`` follows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    inspect,
    select,
    text,
    update,
)

from sync.errors import SyncError

metadata = MetaData()

#: Key/value facts about the store itself; holds ``schema_version``.
meta = Table(
    "meta",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

#: One row per known user. ``values`` (Python key ``field_values``): JSON object of the last
#: pushed values, Chamilo field names and ``extra.<name>`` → string; never a password.
users = Table(
    "users",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("chamilo_user_id", Integer, nullable=True),
    Column("source", String(255), nullable=True),  # NULL: imported one-off, never disabled
    Column("active", Boolean, nullable=False),
    Column("values", Text, nullable=False, key="field_values"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

#: One row per run; ``counts`` is a JSON object.
runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("mode", String(32), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("counts", Text, nullable=True),
    Column("exit_code", Integer, nullable=True),
)

#: At most one row (``id`` = 1): the run holding the store. ``token`` identifies one
#: acquisition, so a takeover or release touches exactly the lock it looked at.
lock = Table(
    "lock",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("token", String(64), nullable=False),
)

#: Batches sent but not yet recorded; ``payload`` is ``{"keys": [...]}`` (no values, no
#: passwords). One row per batch, so the keys live in the payload.
journal = Table(
    "journal",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, nullable=False),
    Column("action", String(16), nullable=False),
    Column("payload", Text, nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=False),
)

Migration = Callable[[Connection], None]

#: ``MIGRATIONS[i]`` brings a database from version ``i + 1`` to ``i + 2``.
MIGRATIONS: tuple[Migration, ...] = ()

SCHEMA_VERSION = 1 + len(MIGRATIONS)

_VERSION = "schema_version"
_PG_LOCK_ID = 0x43_68_53_79  # advisory lock serialising schema set-up on PostgreSQL


def ensure_schema(
    conn: Connection, where: str, migrations: Sequence[Migration] = MIGRATIONS
) -> int:
    """Create or migrate the schema inside the caller's transaction; return the version.

    ``where`` names the store in messages. Raises ``SyncError`` when the database was
    written by a newer chamilo-sync."""
    latest = 1 + len(migrations)
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _PG_LOCK_ID})
    version = read_version(conn)
    if version is None:
        metadata.create_all(conn)
        conn.execute(meta.insert().values(name=_VERSION, value=str(latest)))
        return latest
    if version > latest:
        raise SyncError(
            f"state store {where} has schema version {version}, but this chamilo-sync "
            f"only knows versions up to {latest}: upgrade chamilo-sync",
            hint="install the chamilo-sync release that wrote this state store, or newer",
        )
    for step in range(version, latest):
        migrations[step - 1](conn)
    if version < latest:
        conn.execute(update(meta).where(meta.c.name == _VERSION).values(value=str(latest)))
    return latest


def read_version(conn: Connection) -> int | None:
    """The stored schema version, or ``None`` for a database without our tables."""
    if not inspect(conn).has_table("meta"):
        return None
    value = conn.execute(select(meta.c.value).where(meta.c.name == _VERSION)).scalar()
    if value is None:
        return None
    return int(value)
