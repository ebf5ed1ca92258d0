"""Apply the bundled example to a local Chamilo stand-in, end to end.

    python examples/demo.py                       # plan, apply, apply again (nothing to do)
    python examples/demo.py --write-state-example # also refresh ./state.db.example

The stand-in is the test suite's real nusoap server speaking Chamilo's WSDL (PHP's built-in
server on 127.0.0.1, SQLite behind it). It needs Debian's php-cli, php-xml, php-sqlite3 and
libnusoap-php (``bash .ci/install.sh`` installs them). Everything happens in a temporary
folder; nothing else is touched.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.chamilo_standin import ChamiloStandin  # noqa: E402


def run(config: Path, key: str, *args: str) -> int:
    print(f"\n$ chamilo-sync {' '.join(args)}", flush=True)
    env = dict(os.environ, CHAMILO_SECURITY_KEY=key, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "sync", "--config", str(config),
                           "--log-level", "warning", *args], env=env).returncode


def main() -> int:
    write_example = "--write-state-example" in sys.argv[1:]
    with tempfile.TemporaryDirectory(prefix="chamilo-sync-demo-") as tmp:
        folder = Path(tmp)
        standin = ChamiloStandin(folder / "chamilo").start()
        try:
            text = (REPO / "examples/chamilo-sync.toml").read_text(encoding="utf-8")
            text = text.replace("http://127.0.0.1:8765/main/webservices/registration.soap.php",
                                standin.url)
            text = text.replace('path = "people.csv"', f'path = "{REPO / "examples/people.csv"}"')
            text = text.replace('mapping = "../mappings/people.toml"',
                                f'mapping = "{REPO / "mappings/people.toml"}"')
            config = folder / "chamilo-sync.toml"
            config.write_text(text, encoding="utf-8")
            print(f"Chamilo stand-in listening at {standin.url}")
            codes = [run(config, standin.security_key, "plan"),
                     run(config, standin.security_key, "apply"),
                     run(config, standin.security_key, "apply")]
            print("\nAccounts now in the stand-in's Chamilo:")
            for u in standin.users():
                print(f"  #{u['id']:<3} {u['username']:<12} {u['firstname']} {u['lastname']} "
                      f"<{u['email']}> status {u['status']} original id {u['original_id']}")
            if write_example:
                state = folder / "state.db"
                with sqlite3.connect(state) as db:
                    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                    db.execute("PRAGMA journal_mode=DELETE")
                    # the example is about users; host names and pids of this machine are not
                    db.execute("UPDATE runs SET host = 'example-host', pid = 0")
                target = REPO / "state.db.example"
                target.write_bytes(state.read_bytes())
                target.chmod(0o644)
                print(f"\nwrote {target}")
            return max(codes)
        finally:
            standin.stop()


if __name__ == "__main__":
    raise SystemExit(main())
