"""A real nusoap server standing in for Chamilo's ``registration.soap.php`` in tests.

``ChamiloStandin`` prepares a temp dir (a PHP-8-compatible copy of Debian's nusoap 0.9.5, the
full 1.11.6 WSDL or its 1.9 variant, a SQLite state file), runs ``php -S 127.0.0.1:<port>`` with
the router in ``tests/support/standin/server.php`` and reads/writes the state directly. The PHP
side implements API.md §3-§5 (see ``standin/users.php``); faults are injected per operation
through the ``faults`` table (modes listed in ``standin/server.php``).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.support.standin.files import (
    ENDPOINT_PATH,
    SCHEMA,
    USER_COLUMNS,
    StandinError,
    StandinUnavailable,
    php5_nusoap,
    wsdl_for,
)

ROUTER = Path(__file__).resolve().parent / "standin" / "server.php"
DEBIAN_NUSOAP = Path(os.environ.get("CHAMILO_STANDIN_NUSOAP", "/usr/share/php/nusoap/nusoap.php"))

WRITE_OPERATIONS = frozenset(
    {"WSCreateUsers", "WSEditUsers", "WSEnableUsers", "WSDisableUsers", "WSDeleteUsers",
     "WSCreateUser", "WSEditUser", "WSEditUserCredentials", "WSCreateUsersPasswordCrypted",
     "WSEditUsersPasswordCrypted"}
)
FAULT_MODES = frozenset(
    {"http500", "hang", "drop", "fault", "garbage", "apply_then_500", "apply_then_drop"}
)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ChamiloStandin:
    """Controller of one stand-in server. ``start()`` it (or use the pytest fixtures)."""

    client_ip = "127.0.0.1"

    def __init__(self, workdir: Path, *, variant: str = "1.11",
                 original_user_id_name: str = "external_user_id", workers: int = 4) -> None:
        self.workdir = Path(workdir)
        self.variant = variant
        self.original_user_id_name = original_user_id_name
        self.security_key = secrets.token_hex(16)
        self.workers = workers
        self.port: int | None = None
        self._proc: subprocess.Popen | None = None

    # -- life cycle --------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{ENDPOINT_PATH}"

    @property
    def db_path(self) -> Path:
        return self.workdir / "standin.sqlite"

    @property
    def log_path(self) -> Path:
        return self.workdir / "php.log"

    def start(self) -> ChamiloStandin:
        if shutil.which("php") is None or not DEBIAN_NUSOAP.exists():
            raise StandinUnavailable(
                "the Chamilo stand-in needs php-cli, php-xml, php-sqlite3 and libnusoap-php "
                f"(nusoap expected at {DEBIAN_NUSOAP})"
            )
        modules = subprocess.run(["php", "-m"], capture_output=True, text=True, check=False).stdout
        missing = [m for m in ("sqlite3", "xml") if m not in modules.lower().split()]
        if missing:
            raise StandinUnavailable(f"the Chamilo stand-in needs the PHP modules {missing}")
        self.workdir.mkdir(parents=True, exist_ok=True)
        source = DEBIAN_NUSOAP.read_text(encoding="iso-8859-1")
        (self.workdir / "nusoap.php").write_text(php5_nusoap(source), encoding="iso-8859-1")
        last_error = ""
        for _ in range(3):  # a free port can be taken between probe and bind: retry
            self.port = free_port()
            self._prepare_state()
            try:
                self._launch()
                return self
            except StandinError as exc:
                last_error = str(exc)
                self.stop()
        raise StandinError(last_error)

    def _prepare_state(self) -> None:
        (self.workdir / "registration.wsdl").write_text(
            wsdl_for(self.variant, self.url), encoding="iso-8859-1"
        )
        if self.db_path.exists():
            self.db_path.unlink()
        with self._db() as db:
            db.executescript(SCHEMA)
            db.executemany(
                "INSERT INTO settings (name, value) VALUES (?, ?)",
                [("security_key", self.security_key), ("variant", self.variant),
                 ("platform_language", "english"), ("timezone", "UTC"), ("soap_address", None)],
            )

    def _launch(self) -> None:
        env = dict(os.environ, STANDIN_DIR=str(self.workdir),
                   PHP_CLI_SERVER_WORKERS=str(self.workers))
        cmd = ["php", "-d", "display_errors=0", "-d", "log_errors=1", "-d", f"error_log={self.log_path}",
               "-d", "memory_limit=256M", "-d", "max_execution_time=0",
               "-S", f"127.0.0.1:{self.port}", "-t", str(self.workdir), str(ROUTER)]
        with open(self.workdir / "server.log", "ab") as out:
            self._proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise StandinError(f"php -S exited: {self._tail('server.log')}")
            try:
                with urllib.request.urlopen(self.url + "?wsdl", timeout=2) as resp:
                    if resp.status == 200 and b"WSRegistration" in resp.read():
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.05)
        raise StandinError(f"stand-in did not answer on {self.url}: {self._tail('php.log')}")

    def _tail(self, name: str) -> str:
        path = self.workdir / name
        return path.read_text(errors="replace")[-2000:] if path.exists() else "(no log)"

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)  # php -S and its forked workers
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)

    # -- state -------------------------------------------------------------------------------
    def _db(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.db_path, timeout=10, isolation_level=None)
        db.row_factory = sqlite3.Row
        return db

    def reset(self) -> None:
        """Empty users, extra fields, calls and faults; restore the advertised address."""
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            for table in ("user", "extra_field", "extra_field_value", "calls", "faults"):
                db.execute(f"DELETE FROM {table}")
            db.execute("DELETE FROM sqlite_sequence")
            db.execute("UPDATE settings SET value = NULL WHERE name = 'soap_address'")
            db.execute("COMMIT")

    def secret_for(self, ip: str) -> str:
        return hashlib.sha1((ip + self.security_key).encode()).hexdigest()

    def set_soap_address(self, address: str | None) -> None:
        """Make ``?wsdl`` advertise another ``soap:address`` (as behind a reverse proxy)."""
        with self._db() as db:
            db.execute("UPDATE settings SET value = ? WHERE name = 'soap_address'", (address,))

    def users(self) -> list[dict]:
        with self._db() as db:
            rows = db.execute(f"SELECT {', '.join(USER_COLUMNS)}, password FROM user ORDER BY id").fetchall()
            extras = db.execute(
                "SELECT user_id, variable, value FROM extra_field_value ORDER BY id").fetchall()
        out = []
        for row in rows:
            user = {c: row[c] for c in USER_COLUMNS}
            user["active"] = bool(user["active"])
            user["is_admin"] = bool(user["is_admin"])
            user["original_id"] = None
            user["extras"] = {}
            for e in extras:
                if e["user_id"] != row["id"]:
                    continue
                if e["variable"].lower() == self.original_user_id_name.lower():
                    user["original_id"] = e["value"]
                else:
                    user["extras"][e["variable"]] = e["value"]
            user["_password_hash"] = row["password"]
            out.append(user)
        return out

    def user_by_key(self, key: str) -> dict | None:
        """The account holding ``key`` (compared case-insensitively, like Chamilo on MySQL)."""
        for user in self.users():
            if user["original_id"] is not None and user["original_id"].lower() == key.lower():
                return user
        return None

    def password_matches(self, key: str, password: str) -> bool:
        user = self.user_by_key(key)
        return user is not None and user["_password_hash"] == hashlib.sha1(password.encode()).hexdigest()

    def add_user(self, key: str | None = None, *, username: str, firstname: str = "Pre",
                 lastname: str = "Existing", email: str | None = None, status: str = "5",
                 active: bool = True, phone: str | None = None, expiration_date: str | None = None,
                 language: str = "english", password: str = "secret",
                 extras: dict[str, str] | None = None, is_admin: bool = False) -> int:
        """Pre-seed an account (``key=None``: one without an original id). Returns its id."""
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            cur = db.execute(
                "INSERT INTO user (username, firstname, lastname, email, status, active, phone,"
                " expiration_date, language, official_code, password, auth_source, is_admin)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '', ?, 'platform', ?)",
                (username, firstname, lastname, email or f"{username}@example.org", status,
                 int(active), phone, expiration_date, language,
                 hashlib.sha1(password.encode()).hexdigest(), int(is_admin)),
            )
            user_id = cur.lastrowid
            values = dict(extras or {})
            if key is not None:
                values[self.original_user_id_name] = key
            for variable, value in values.items():
                db.execute("INSERT OR IGNORE INTO extra_field (variable) VALUES (?)", (variable,))
                db.execute("INSERT INTO extra_field_value (user_id, variable, value) VALUES (?, ?, ?)",
                           (user_id, variable, value))
            db.execute("COMMIT")
        return user_id

    def add_extra_field(self, variable: str) -> None:
        with self._db() as db:
            db.execute("INSERT OR IGNORE INTO extra_field (variable) VALUES (?)", (variable,))

    def extra_fields(self) -> list[str]:
        with self._db() as db:
            return [r[0] for r in db.execute("SELECT variable FROM extra_field ORDER BY id")]

    # -- calls and faults --------------------------------------------------------------------
    def calls(self, operation: str | None = None) -> list[dict]:
        with self._db() as db:
            rows = db.execute("SELECT * FROM calls ORDER BY id").fetchall()
        out = [dict(r) for r in rows]
        return [c for c in out if operation is None or c["operation"] == operation]

    def write_calls(self) -> list[dict]:
        return [c for c in self.calls() if c["operation"] in WRITE_OPERATIONS]

    def inject(self, operation: str, mode: str, times: int = 1, seconds: float = 0.0) -> None:
        """For the next ``times`` calls of ``operation`` (``"*"``: any, ``"wsdl"``: the WSDL
        GET) misbehave as ``mode`` (see ``standin/server.php``)."""
        if mode not in FAULT_MODES:
            raise ValueError(f"unknown fault mode {mode!r}; one of {sorted(FAULT_MODES)}")
        with self._db() as db:
            db.execute("INSERT INTO faults (operation, mode, remaining, seconds) VALUES (?, ?, ?, ?)",
                       (operation, mode, times, seconds))

    def php_log(self) -> str:
        return self._tail("php.log")
