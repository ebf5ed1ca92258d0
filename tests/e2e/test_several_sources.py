"""A CSV export and an LDAP directory in one run, end to end: real slapd, real nusoap stand-in."""

import json
import sqlite3

import pytest

from tests.support.cli import HEADER, person_row, run_cli, write_project

LDAP_MAPPING = """
[key]
column = "employeeNumber"

[fields]
firstname = { column = "givenName" }
lastname  = { column = "sn" }
email     = { column = "mail", transform = ["lower"] }
loginname = { column = "uid" }
status    = { value = 1 }

[extra]
department = { column = "ou", join = "; ", required = false }
"""


def staff(scratch, uid: str, number: str | None, given: str, sn: str, mails=None, ous=None) -> str:
    attrs = {"objectClass": ["inetOrgPerson"], "uid": uid, "givenName": given, "sn": sn,
             "cn": f"{given} {sn}"}
    if number is not None:
        attrs["employeeNumber"] = number
    if mails:
        attrs["mail"] = mails
    if ous:
        attrs["ou"] = ous
    return scratch.server.add(f"uid={uid},{scratch.dn}", attrs)


@pytest.fixture
def two_sources(tmp_path, chamilo, ldap_server, ldap_scratch):
    staff(ldap_scratch, "tsmith", "E1", "Tom", "Smith", ["Tom.Smith@staff.example", "t@old.example"],
          ["Maths", "Physics"])
    staff(ldap_scratch, "jdoe", "E2", "Jane", "Doe", ["jane.doe@staff.example"])
    staff(ldap_scratch, "both", "00018", "Directory", "Version", ["dir@staff.example"])
    staff(ldap_scratch, "nokey", None, "No", "Key", ["nokey@staff.example"])
    (tmp_path / "ldap.toml").write_text(LDAP_MAPPING, encoding="utf-8")
    (tmp_path / "ldap.pw").write_text(ldap_server.bind_password)
    sources = f'''
[[source]]
name = "sis"
type = "csv"
path = "people.csv"
mapping = "people.toml"

[[source]]
name = "staff"
type = "ldap"
url = "{ldap_server.ldaps_url}"
ca_file = "{ldap_server.ca_file}"
bind_dn = "{ldap_server.bind_dn}"
bind_password_file = "ldap.pw"
base_dn = "{ldap_scratch.dn}"
filter = "(objectClass=inetOrgPerson)"
page_size = 2
mapping = "ldap.toml"
'''
    csv = HEADER + person_row("00017", "Ann", "Dupre") + person_row("00018", "Bruno", "Martin")

    def setup(csv_text=csv, extra='[safety]\nmax_disable = "100%"\n'):
        write_project(tmp_path, csv_text, sources=sources, extra=extra,
                      chamilo={"url": chamilo.url, "client_ip": chamilo.client_ip, "batch_size": 2})

    def cli(*args):
        return run_cli("--config", str(tmp_path / "chamilo-sync.toml"), *args,
                       env={"TEST_CHAMILO_KEY": chamilo.security_key})

    setup()
    setup.cli = cli
    setup.scratch = ldap_scratch
    return setup


def test_one_run_reads_a_csv_and_a_directory_and_records_who_owns_whom(two_sources, chamilo, tmp_path):
    result = two_sources.cli("apply", "--report", str(tmp_path / "r.json"))
    assert result.code == 1, result.err  # the entry without employeeNumber is rejected
    report = json.loads((tmp_path / "r.json").read_text())
    assert {s["name"]: s["rows"] for s in report["sources"]} == {"sis": 2, "staff": 4}
    [rejected] = report["rejected"]
    assert rejected["source"] == "staff" and rejected["key"] == "" and rejected["dn"].startswith("uid=nokey,")
    created = {c["key"]: c for c in report["changes"] if c["action"] == "create"}
    assert {k: c["source"] for k, c in created.items()} == {
        "00017": "sis", "00018": "sis", "E1": "staff", "E2": "staff"}
    tom = chamilo.user_by_key("E1")
    assert tom["email"] == "tom.smith@staff.example"  # first value, as the server returns it
    assert tom["extras"]["department"] == "Maths; Physics"
    assert str(tom["status"]) == "1"
    # the key found in both sources comes from the first one (the CSV)
    assert chamilo.user_by_key("00018")["firstname"] == "Bruno"
    db = sqlite3.connect(tmp_path / "state.db")
    owners = dict(db.execute("select key, source from users"))
    db.close()
    assert owners == {"00017": "sis", "00018": "sis", "E1": "staff", "E2": "staff"}


def test_with_source_only_that_sources_users_can_be_disabled(two_sources, chamilo, tmp_path):
    assert two_sources.cli("apply").code == 1
    # Ann leaves the CSV and Jane leaves the directory
    two_sources(csv_text=HEADER + person_row("00018", "Bruno", "Martin"))
    two_sources.scratch.server.delete(f"uid=jdoe,{two_sources.scratch.dn}")
    result = two_sources.cli("apply", "--source", "staff")
    assert result.code == 1, result.err
    assert not chamilo.user_by_key("E2")["active"]
    assert chamilo.user_by_key("00017")["active"]  # owned by sis, not in this run
    result = two_sources.cli("apply")
    assert not chamilo.user_by_key("00017")["active"]


def test_check_binds_and_counts_what_each_source_returns(two_sources):
    result = two_sources.cli("check")
    assert result.code == 0, result.out + result.err
    assert "source staff: ok, 4 entries" in result.out
    assert "source sis: ok, 2 rows" in result.out


def test_an_unreachable_directory_stops_the_run_and_disables_nobody(two_sources, chamilo, tmp_path):
    assert two_sources.cli("apply").code == 1
    writes = len(chamilo.write_calls())
    cfg = tmp_path / "chamilo-sync.toml"
    cfg.write_text(cfg.read_text().replace('bind_password_file = "ldap.pw"', 'bind_password_file = "wrong.pw"'))
    (tmp_path / "wrong.pw").write_text("not-the-password")
    result = two_sources.cli("apply")
    assert result.code == 2
    assert "not-the-password" not in result.err + result.out
    assert len(chamilo.write_calls()) == writes
    assert all(u["active"] for u in chamilo.users())
