"""The SQLAlchemy engine behind a state store URL, and the words for its failures.

SQLite specifics: a new database file is created with owner-only permissions (0600) before
the driver touches it; connections use WAL and a busy timeout; transactions are begun here
(``BEGIN``, or ``BEGIN IMMEDIATE`` on an engine made with :data:`WRITE_OPTIONS`, so a
read-then-write transaction waits for a concurrent writer instead of failing) because the
sqlite3 module's legacy mode would not begin one before SELECT or DDL.
"""

from __future__ import annotations

import logging
import os
import re

from sqlalchemy import Connection, create_engine, event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from sync.errors import SyncError

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_S = 30
BEGIN_OPTION = "chamilo_sync_begin"
#: Execution options of the engine used for writing transactions.
WRITE_OPTIONS = {BEGIN_OPTION: "BEGIN IMMEDIATE"}


def mask_url(url: str) -> str:
    """``url`` fit for messages: the password replaced by ``***``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", str(url))


def make_engine(url: URL, where: str) -> Engine:
    """The engine for ``url`` (``where``: the masked URL, for messages); raises
    ``SyncError`` for an unknown dialect or a missing driver. Connects lazily."""
    kwargs: dict = {}
    if url.get_backend_name() == "sqlite":
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_S}
    elif url.get_backend_name() == "postgresql":
        kwargs["pool_pre_ping"] = True
        if url.get_driver_name() in ("psycopg", "psycopg2"):
            kwargs["connect_args"] = {"connect_timeout": 15}
    try:
        engine = create_engine(url, **kwargs)
    except (ArgumentError, ImportError) as exc:
        raise SyncError(f"state store URL {where} cannot be used: {exc}") from exc
    if engine.dialect.name == "sqlite":
        _take_over_sqlite_transactions(engine, in_memory=_sqlite_path(url) is None)
    return engine


def _take_over_sqlite_transactions(engine: Engine, *, in_memory: bool) -> None:
    """WAL, busy timeout, and our own BEGIN (see the module docstring)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_S * 1000}")
        if not in_memory:
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql(conn.get_execution_options().get(BEGIN_OPTION, "BEGIN"))


def _sqlite_path(url: URL) -> str | None:
    """The file of a SQLite URL, or ``None`` for an in-memory or URI-style database."""
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    if str(url.query.get("uri", "")).lower() in ("true", "1"):
        return None
    return database


def create_sqlite_file(url: URL, where: str) -> None:
    """Create the database file of a SQLite ``url`` with mode 0600 if it does not exist."""
    if url.get_backend_name() != "sqlite":
        return
    path = _sqlite_path(url)
    if path is None:
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        raise SyncError(
            f"state store {where}: cannot create {path}: {exc.strerror or exc}"
        ) from exc
    os.close(fd)
    log.info("created state store file %s (mode 0600)", path)


def describe_problem(exc: SQLAlchemyError, password: str | None) -> str:
    """The driver's own words for ``exc``, on one line, with ``password`` masked."""
    cause = getattr(exc, "orig", None) or exc
    text = " ".join(str(cause).split()) or type(cause).__name__
    if password:
        text = text.replace(password, "***")
    return text
