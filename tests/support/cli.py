"""Run the real ``chamilo-sync`` command in a subprocess, as an administrator would."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Completed:
    code: int
    out: str
    err: str


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None,
            timeout: float = 300) -> Completed:
    full_env = {k: v for k, v in os.environ.items() if k != "CHAMILO_SYNC_CONFIG"}
    full_env["PYTHONPATH"] = str(REPO) + os.pathsep + full_env.get("PYTHONPATH", "")
    full_env.update(env or {})
    proc = subprocess.run([sys.executable, "-m", "sync", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)
    return Completed(proc.returncode, proc.stdout, proc.stderr)


def write_project(tmp: Path, csv_text: str, *, mapping: str | None = None,
                  chamilo: dict | None = None, extra: str = "", sources: str | None = None) -> Path:
    """A config folder: people.csv, people.toml (the bundled example mapping unless given),
    chamilo-sync.toml. Returns the config path."""
    (tmp / "people.csv").write_text(csv_text, encoding="utf-8")
    mapping_text = mapping if mapping is not None else (REPO / "mappings/people.toml").read_text()
    (tmp / "people.toml").write_text(mapping_text, encoding="utf-8")
    c = chamilo or {"url": "http://127.0.0.1:9/main/webservices/registration.soap.php",
                    "client_ip": "127.0.0.1"}
    lines = ["[chamilo]", f'url = "{c["url"]}"', 'security_key_env = "TEST_CHAMILO_KEY"',
             f'client_ip = "{c["client_ip"]}"']
    for k in ("batch_size", "concurrency", "timeout"):
        if k in c:
            lines.append(f"{k} = {c[k]}")
    lines += ["", "[state]", 'url = "sqlite:///state.db"', ""]
    lines += [sources if sources is not None else
              '[[source]]\nname = "sis"\ntype = "csv"\npath = "people.csv"\nmapping = "people.toml"\n']
    lines.append(extra)
    path = tmp / "chamilo-sync.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


HEADER = "person_id,first_name,last_name,email,role,dept,phone,end_date,state\n"


def person_row(pid: str, first: str = "Ann", last: str | None = None, email: str | None = None,
               role: str = "student", dept: str = "Sciences", phone: str = "",
               end: str = "30/06/2027", state: str = "active") -> str:
    last = last if last is not None else f"Lee{pid}"
    email = email if email is not None else f"{first}.{last}.{pid}@school.example".lower()
    return f"{pid},{first},{last},{email},{role},{dept},{phone},{end},{state}\n"
