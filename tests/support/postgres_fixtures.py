"""Fixtures: a throwaway PostgreSQL cluster on 127.0.0.1.

* ``postgres_server_url`` (session): SQLAlchemy URL (``postgresql+psycopg://…``) of the
  cluster's ``postgres`` database, as its superuser. The cluster lives in a temp directory,
  listens on 127.0.0.1 on a free port only, and is stopped and removed at the end.
* ``postgres_url`` (function): URL of a fresh, empty database ``test_<n>`` on that cluster,
  dropped after the test.

Binaries are looked up in ``$PG_BIN``, then next to ``pg_ctl`` on ``PATH``, then in the newest
``/usr/lib/postgresql/<version>/bin``. When they (or psycopg) are missing the tests are
skipped with the reason, except in CI (``CI=true``) where they fail loudly. PostgreSQL
refuses to run as root: under root the cluster runs as the ``postgres`` system user (or
``nobody``), in a temp directory owned by that user.
"""

from __future__ import annotations

import itertools
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import URL, make_url

_SUPERUSER = "chamilo_sync"
_database_numbers = itertools.count(1)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def _unavailable(reason: str) -> None:
    if _in_ci():
        pytest.fail(f"PostgreSQL tests cannot run in CI: {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL tests skipped: {reason}")


def _find_bindir() -> Path | None:
    candidates: list[Path] = []
    if os.environ.get("PG_BIN"):
        candidates.append(Path(os.environ["PG_BIN"]))
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    versions = Path("/usr/lib/postgresql").glob("*/bin")
    candidates += sorted(versions, key=lambda p: _version(p.parent.name), reverse=True)
    for bindir in candidates:
        if all((bindir / exe).is_file() for exe in ("initdb", "pg_ctl", "postgres")):
            return bindir
    return None


def _version(name: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in name.split("."))
    except ValueError:
        return (0,)


def _unprivileged_ids() -> tuple[int, int] | None:
    """(uid, gid) to run PostgreSQL as when we are root, else ``None`` (run as ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return entry.pw_uid, entry.pw_gid
    _unavailable("running as root and no unprivileged user (postgres, nobody) to run it as")
    return None  # unreachable


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Cluster:
    def __init__(self, bindir: Path, base: Path, ids: tuple[int, int] | None) -> None:
        self.bindir = bindir
        self.base = base
        self.data = base / "data"
        self.log = base / "postgres.log"
        self.ids = ids
        self.password = secrets.token_hex(16)
        self.port = 0

    def run(self, *args: str) -> subprocess.CompletedProcess:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C",
               "HOME": str(self.base)}
        as_user = {}
        if self.ids is not None:
            as_user = {"user": self.ids[0], "group": self.ids[1], "extra_groups": []}
        return subprocess.run(
            [str(self.bindir / args[0]), *args[1:]], cwd=self.base, env=env,
            capture_output=True, text=True, timeout=120, **as_user,
        )

    def give(self, path: Path) -> None:
        if self.ids is not None:
            os.chown(path, *self.ids)

    def init(self) -> None:
        self.give(self.base)
        pwfile = self.base / "pwfile"
        pwfile.write_text(self.password + "\n")
        pwfile.chmod(0o600)
        self.give(pwfile)
        done = self.run(
            "initdb", "-D", str(self.data), "-U", _SUPERUSER, f"--pwfile={pwfile}",
            "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C", "--no-sync",
        )
        pwfile.unlink()
        if done.returncode != 0:
            pytest.fail(f"initdb failed:\n{done.stdout}\n{done.stderr}", pytrace=False)

    def start(self) -> None:
        problems = []
        for _attempt in range(3):
            self.port = _free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.base} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            )
            done = self.run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w",
                            "-t", "60", "-o", options, "start")
            if done.returncode == 0:
                return
            problems.append(done.stdout + done.stderr + self._log_tail())
        pytest.fail("PostgreSQL did not start:\n" + "\n".join(problems), pytrace=False)

    def stop(self) -> None:
        self.run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def _log_tail(self) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-20:])
        except OSError:
            return ""

    def url(self, database: str) -> str:
        return URL.create(
            "postgresql+psycopg", username=_SUPERUSER, password=self.password,
            host="127.0.0.1", port=self.port, database=database,
        ).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """URL of the session's PostgreSQL cluster (``postgres`` database, superuser)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("psycopg is not installed (pip install 'psycopg[binary]')")
    bindir = _find_bindir()
    if bindir is None:
        _unavailable("no PostgreSQL binaries (initdb, pg_ctl, postgres); set PG_BIN")
    ids = _unprivileged_ids()
    base = Path(tempfile.mkdtemp(prefix="chamilo-sync-pg-"))
    cluster = _Cluster(bindir, base, ids)
    try:
        cluster.init()
        cluster.start()
        yield cluster.url("postgres")
    finally:
        if cluster.port:
            cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


def _admin(server_url: str):
    import psycopg

    url = make_url(server_url)
    return psycopg.connect(
        host=url.host, port=url.port, user=url.username, password=url.password,
        dbname=url.database, autocommit=True,
    )


@pytest.fixture
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    """URL of a fresh empty database on the session cluster, dropped after the test."""
    name = f"test_{next(_database_numbers)}"
    with _admin(postgres_server_url) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(postgres_server_url).set(database=name).render_as_string(
            hide_password=False
        )
    finally:
        with _admin(postgres_server_url) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
