"""Secrets never leave the process (SPEC §7 "Secrets"): the security key, the derived
secret_key (sha1(client_ip + key)) and user passwords appear in no output, no log at any
level or format, no report, and not in the state store; the state store file is 0600.

One project runs the whole life of two sources through the real command: `sis` takes
passwords from a column, `staff` generates them at apply time. `check`, `plan` (json, html,
csv), three applies at `-v` (creates, then updates, creates and disables; text and JSON logs;
.json, .html and .csv reports) and runs with a wrong key. Every byte they wrote is then
searched: for the key, the derived secrets (right and wrong key), every column password, and
any 20-character run whose SHA-1 is the hash the stand-in stored for a generated password.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import stat

from tests.support.cli import REPO
from tests.support.convergence import Person, csv_of
from tests.support.sync_project import SAFETY, Project

EXAMPLE_MAPPING = (REPO / "mappings/people.toml").read_text(encoding="utf-8")
COLUMN_MAPPING = EXAMPLE_MAPPING.replace('password  = { generate = true }',
                                         'password  = { column = "initial_password" }')
assert COLUMN_MAPPING != EXAMPLE_MAPPING
SOURCES = """
[[source]]
name = "sis"
type = "csv"
path = "people.csv"
mapping = "people.toml"

[[source]]
name = "staff"
type = "csv"
path = "staff.csv"
mapping = "staff.toml"
"""
GENERATED = re.compile(r"[A-Za-z0-9\-_.!@#%+=]{20,}")  # sync.payloads' alphabet


class TwoSources:
    """people.csv (sis, passwords in a column) and staff.csv (staff, generated passwords)."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.tag = secrets.token_hex(4)
        self.passwords: dict[str, str] = {}
        (project.folder / "staff.toml").write_text(EXAMPLE_MAPPING, encoding="utf-8")

    def password(self, key: str) -> str:
        return self.passwords.setdefault(key, f"Pw!{self.tag}{key}#Zq{secrets.token_hex(3)}")

    def write(self, sis: list[Person], staff: list[Person]) -> None:
        lines = csv_of(sis).splitlines()
        rows = [lines[0] + ",initial_password"] + [
            f"{line},{self.password(p.key)}" for line, p in zip(lines[1:], sis)]
        self.project.write(sis, mapping=COLUMN_MAPPING, sources=SOURCES, extra=SAFETY)
        (self.project.folder / "people.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
        (self.project.folder / "staff.csv").write_text(csv_of(staff), encoding="utf-8")


def keys_in(value) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys_in(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys_in(v)}
    return set()


def test_no_secret_reaches_any_output_log_report_or_the_state_store(tmp_path, chamilo):
    project = Project(tmp_path, chamilo)
    files = TwoSources(project)
    sis = [Person(f"SP{i}") for i in range(1, 4)]
    staff = [Person(f"ST{i}") for i in range(1, 3)]
    wrong_key = f"WrongKey-{secrets.token_hex(8)}"
    outputs: dict[str, str] = {}

    def run(name: str, *args: str, code: int = 0, key: str | None = None) -> None:
        result = project.run(*args, env={"TEST_CHAMILO_KEY": key} if key else None)
        assert result.code == code, f"{name}: {result.err[-2000:]}"
        outputs[f"{name} stdout"], outputs[f"{name} stderr"] = result.out, result.err

    files.write(sis, staff)
    run("check", "-v", "check")
    run("plan json", "-v", "plan", "--format", "json")
    run("plan html", "plan", "--format", "html", "--output", str(tmp_path / "plan.html"))
    run("plan csv", "plan", "--format", "csv", "--output", str(tmp_path / "plan.csv"))
    run("apply 1", "-v", "apply", "--report", str(tmp_path / "r1.json"))
    mode = stat.S_IMODE(project.state_db.stat().st_mode)
    assert mode == 0o600, oct(mode)

    sis2 = [sis[0].but(email="sp1.new@school.example"), sis[2], Person("SP4")]  # SP2 gone
    staff2 = [staff[0].but(dept="Arts"), staff[1]]
    files.write(sis2, staff2)
    run("apply 2", "-v", "--log-format", "json", "apply", "--report", str(tmp_path / "r2.html"))
    files.write([sis2[0], sis2[1].but(state="left"), sis2[2]], [staff2[0], Person("ST3")])
    run("apply 3", "-v", "apply", "--report", str(tmp_path / "r3.csv"))
    run("plan text", "-v", "plan")
    files.write([sis2[0], sis2[1].but(state="left"), Person("SP5")], [staff2[0], Person("ST3")])
    run("wrong key apply", "-v", "apply", code=2, key=wrong_key)  # SP4 gone, SP5 new
    run("wrong key check", "-v", "--log-format", "json", "check", code=2, key=wrong_key)

    # the values below did reach Chamilo: their absence elsewhere means something
    assert [k for k, pw in files.passwords.items() if not chamilo.password_matches(k, pw)] == [
        "SP5"]  # created by no run: the wrong key stopped it
    summary = json.loads(outputs["apply 1 stdout"] and (tmp_path / "r1.json").read_text())
    assert summary["summary"]["create"] == 5
    assert {u["original_id"]: u["active"] for u in chamilo.users()}["SP3"] is False

    for name in ("plan.html", "plan.csv", "r1.json", "r2.html", "r3.csv"):
        outputs[name] = (tmp_path / name).read_text(encoding="utf-8")
    stored = {name: (tmp_path / name).read_bytes()
              for name in ("state.db", "state.db-wal") if (tmp_path / name).exists()}
    for name in ("state.db-wal", "state.db-shm"):
        if (tmp_path / name).exists():
            assert stat.S_IMODE((tmp_path / name).stat().st_mode) & 0o077 == 0, name

    forbidden = {"the security key": chamilo.security_key,
                 "the derived secret_key": chamilo.secret_for(chamilo.client_ip),
                 "the wrong key": wrong_key,
                 "the secret derived from the wrong key": hashlib.sha1(
                     (chamilo.client_ip + wrong_key).encode()).hexdigest(),
                 **{f"the password of {k}": pw for k, pw in files.passwords.items()}}
    leaks = [f"{what} in {name}" for name, text in outputs.items()
             for what, value in forbidden.items() if value in text]
    leaks += [f"{what} in {name}" for name, data in stored.items()
              for what, value in forbidden.items() if value.encode() in data]
    assert leaks == []

    generated = {u["_password_hash"]: u["original_id"] for u in chamilo.users()
                 if u["original_id"].startswith("ST")}
    assert len(generated) == 3  # three staff users, three different passwords
    texts = list(outputs.items()) + [(n, d.decode("latin-1")) for n, d in stored.items()]
    found = [(generated[h], name) for name, text in texts
             for run_ in GENERATED.findall(text) for i in range(len(run_) - 19)
             if (h := hashlib.sha1(run_[i:i + 20].encode()).hexdigest()) in generated]
    assert found == [], "a generated password was written out"

    assert not any("password" in k.lower() for k in keys_in(json.loads(outputs["r1.json"])))
    assert "password" not in outputs["r3.csv"].lower() + outputs["r2.html"].lower()
    for values in _stored_values(tmp_path / "state.db"):
        assert not any("password" in k.lower() for k in values), values


def _stored_values(state_db):
    import sqlite3

    db = sqlite3.connect(f"file:{state_db}?mode=ro", uri=True)
    try:
        return [json.loads(v) for (v,) in db.execute('SELECT "values" FROM users')]
    finally:
        db.close()
