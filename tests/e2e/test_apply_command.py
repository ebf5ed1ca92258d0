"""`chamilo-sync apply` end to end against the real nusoap Chamilo stand-in."""

import json
import sqlite3

import pytest

from tests.support.cli import HEADER, person_row, run_cli, write_project

pytestmark = pytest.mark.usefixtures("chamilo")


@pytest.fixture
def project(tmp_path, chamilo):
    """Writes a project for the stand-in; returns a function running the CLI on it."""

    def setup(csv_text: str, **kwargs):
        chamilo_cfg = {"url": chamilo.url, "client_ip": chamilo.client_ip, "batch_size": 3,
                       "concurrency": 2, "timeout": 20, **kwargs.pop("chamilo", {})}
        write_project(tmp_path, csv_text, chamilo=chamilo_cfg, **kwargs)

    def cli(*args, key=None):
        return run_cli("--config", str(tmp_path / "chamilo-sync.toml"), *args,
                       env={"TEST_CHAMILO_KEY": key or chamilo.security_key})

    setup.cli = cli
    return setup


def five_people(**changes) -> str:
    rows = {pid: person_row(pid, first, last) for pid, first, last in [
        ("00017", "Ann", "Dupré"), ("00018", "Bruno", "Martin"), ("00019", "Chloé", "Lefèvre"),
        ("00020", "Dmitri", "Øster"), ("00021", "Élise", "Núñez")]}
    rows.update(changes)
    return HEADER + "".join(r for r in rows.values() if r)


def state_rows(tmp_path):
    db = sqlite3.connect(tmp_path / "state.db")
    try:
        return {k: (uid, bool(active)) for k, uid, active in
                db.execute("select key, chamilo_user_id, active from users")}
    finally:
        db.close()


def test_first_run_creates_everyone_in_batches_and_records_their_ids(project, chamilo, tmp_path):
    project(five_people())
    result = project.cli("apply", "--report", str(tmp_path / "report.json"))
    assert result.code == 0, result.err + result.out
    users = {u["original_id"]: u for u in chamilo.users()}
    assert sorted(users) == ["00017", "00018", "00019", "00020", "00021"]
    ann = users["00017"]
    assert (ann["username"], ann["firstname"], ann["lastname"]) == ("adupre", "Ann", "Dupré")
    assert str(ann["status"]) == "5" and ann["active"] in (1, True)
    assert ann["extras"].get("department") == "Sciences"
    assert len(chamilo.calls("WSCreateUsers")) == 2  # batch_size 3: 3 + 2
    state = state_rows(tmp_path)
    assert {k: v[0] for k, v in state.items()} == {k: u["id"] for k, u in users.items()}
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["mode"] == "apply"
    assert {o["status"] for o in report["outcomes"]} == {"applied"}
    assert {o["key"]: o["chamilo_user_id"] for o in report["outcomes"]} == {k: u["id"] for k, u in users.items()}


def test_second_run_sends_no_write_request_at_all(project, chamilo):
    project(five_people())
    assert project.cli("apply").code == 0
    before = len(chamilo.write_calls())
    result = project.cli("apply")
    assert result.code == 0, result.err
    assert len(chamilo.write_calls()) == before
    assert "0 create" in result.out


def test_edited_removed_and_inactive_rows_become_edits_and_disables(project, chamilo):
    project(five_people(), extra='[safety]\nmax_disable = "100%"\n')
    assert project.cli("apply").code == 0
    project(five_people(**{
        "00017": person_row("00017", "Ann", "Dupré", email="ann.new@school.example", role="teacher"),
        "00018": None,
        "00019": person_row("00019", "Chloé", "Lefèvre", state="graduated"),
    }), extra='[safety]\nmax_disable = "100%"\n')
    result = project.cli("apply")
    assert result.code == 0, result.err + result.out
    users = {u["original_id"]: u for u in chamilo.users()}
    assert users["00017"]["email"] == "ann.new@school.example"
    assert str(users["00017"]["status"]) == "1"
    assert users["00017"]["username"] == "adupre"
    assert not users["00018"]["active"] and not users["00019"]["active"]
    assert users["00020"]["active"]
    edits = chamilo.calls("WSEditUsers")
    assert len(edits) == 1 and edits[0]["items"] == 1


def test_a_returning_user_is_enabled_then_edited(project, chamilo):
    project(five_people(), extra='[safety]\nmax_disable = "100%"\n')
    assert project.cli("apply").code == 0
    project(five_people(**{"00018": None}), extra='[safety]\nmax_disable = "100%"\n')
    assert project.cli("apply").code == 0
    assert not chamilo.user_by_key("00018")["active"]
    project(five_people(**{"00018": person_row("00018", "Bruno", "Martin", dept="Arts")}),
            extra='[safety]\nmax_disable = "100%"\n')
    result = project.cli("apply")
    assert result.code == 0, result.err + result.out
    bruno = chamilo.user_by_key("00018")
    assert bruno["active"] and bruno["extras"].get("department") == "Arts"
    ops = [c["operation"] for c in chamilo.write_calls()][-2:]
    assert ops == ["WSEnableUsers", "WSEditUsers"]


def test_a_pre_existing_chamilo_account_with_the_same_key_is_adopted_not_duplicated(project, chamilo):
    existing = chamilo.add_user("00019", username="chloe.old", firstname="C", lastname="L",
                                email="old@school.example")
    project(five_people())
    result = project.cli("apply")
    assert result.code == 0, result.err + result.out
    holders = [u for u in chamilo.users() if (u["original_id"] or "").lower() == "00019"]
    assert len(holders) == 1
    assert holders[0]["id"] == existing
    assert holders[0]["email"] == "chloé.lefèvre.00019@school.example"
    assert holders[0]["username"] == "clefevre"


def test_a_wrong_key_exits_2_and_changes_nothing(project, chamilo, tmp_path):
    project(five_people())
    result = project.cli("apply", key="not-the-key")
    assert result.code == 2
    assert "client_ip" in result.err and "not-the-key" not in result.err + result.out
    assert chamilo.users() == []
    assert chamilo.write_calls() == []
    assert state_rows(tmp_path) == {}


def test_a_login_already_taken_is_reported_with_its_reason(project, chamilo, tmp_path):
    chamilo.add_user("X999", username="bmartin", firstname="Other", lastname="Person",
                     email="other@school.example")
    project(five_people())
    result = project.cli("apply", "--report", str(tmp_path / "r.json"))
    assert result.code == 1
    report = json.loads((tmp_path / "r.json").read_text())
    [failed] = [o for o in report["outcomes"] if o["status"] != "applied"]
    assert failed["key"] == "00018" and failed["status"] == "failed"
    assert "bmartin" in failed["message"]
    assert report["summary"]["failed"] == 1
    assert "00018" not in state_rows(tmp_path)
    assert len([u for u in chamilo.users() if u["username"] == "bmartin"]) == 1


def test_a_refused_mass_disable_exits_3_sends_nothing_and_reports_what_it_would_disable(project, chamilo, tmp_path):
    project(five_people())
    assert project.cli("apply").code == 0
    writes = len(chamilo.write_calls())
    project(HEADER + person_row("00017", "Ann", "Dupré"))
    result = project.cli("apply", "--report", str(tmp_path / "refused.json"))
    assert result.code == 3
    assert "--force" in result.err and "--max-disable" in result.err
    assert len(chamilo.write_calls()) == writes
    report = json.loads((tmp_path / "refused.json").read_text())
    assert sorted(c["key"] for c in report["changes"] if c["action"] == "disable") == \
        ["00018", "00019", "00020", "00021"]
    forced = project.cli("apply", "--max-disable", "4")
    assert forced.code == 0, forced.err
    assert sum(1 for u in chamilo.users() if not u["active"]) == 4


def test_import_creates_and_never_disables_and_dry_run_changes_nothing(project, chamilo, tmp_path):
    project(five_people(), extra='[safety]\nmax_disable = "100%"\n')
    assert project.cli("apply").code == 0
    newcomers = tmp_path / "newcomers.csv"
    newcomers.write_text(HEADER + person_row("N001", "Nina", "Noor"), encoding="utf-8")
    dry = project.cli("import", str(newcomers), "--mapping", str(tmp_path / "people.toml"), "--dry-run")
    assert dry.code == 0, dry.err
    assert chamilo.user_by_key("N001") is None
    real = project.cli("import", str(newcomers), "--mapping", str(tmp_path / "people.toml"))
    assert real.code == 0, real.err
    assert chamilo.user_by_key("N001")["active"]
    assert all(u["active"] for u in chamilo.users())
    # imported users belong to no source: the nightly apply leaves them alone
    result = project.cli("apply")
    assert result.code == 0
    assert chamilo.user_by_key("N001")["active"]


def test_adopt_records_existing_accounts_so_apply_edits_them(project, chamilo, tmp_path):
    uid = chamilo.add_user("00020", username="doster", firstname="D", lastname="O",
                           email="d@school.example")
    project(five_people())
    result = project.cli("adopt")
    assert result.code == 0, result.err
    assert state_rows(tmp_path)["00020"][0] == uid
    assert chamilo.write_calls() == []
    assert project.cli("apply").code == 0
    assert chamilo.user_by_key("00020")["email"] == "dmitri.øster.00020@school.example"
    assert len(chamilo.calls("WSCreateUsers")) == 2  # 4 new users in batches of 3


def test_check_proves_the_key_and_names_what_is_wrong(project, chamilo):
    project(five_people())
    ok = project.cli("check")
    assert ok.code == 0, ok.err + ok.out
    assert "key accepted" in ok.out
    bad = project.cli("check", key="wrong")
    assert bad.code == 2 and "client_ip" in bad.out + bad.err


def test_history_lists_past_runs(project, chamilo):
    project(five_people())
    project.cli("apply")
    result = project.cli("history", "--format", "json")
    assert result.code == 0
    runs = json.loads(result.out)
    assert runs[0]["mode"] == "apply" and runs[0]["exit_code"] == 0
    assert runs[0]["counts"]["create"] == 5


def test_a_two_thousand_user_export_applies_end_to_end(project, chamilo, tmp_path):
    rows = "".join(person_row(f"{i:05d}", "Student", f"Number{i}") for i in range(2000))
    project(HEADER + rows, chamilo={"batch_size": 100, "concurrency": 2})
    result = project.cli("apply")
    assert result.code == 0, result.err[-2000:]
    assert len(chamilo.users()) == 2000
    again = project.cli("apply")
    assert again.code == 0 and "0 create" in again.out


def test_an_adopted_account_chamilo_holds_disabled_is_enabled_and_edited(project, chamilo, tmp_path):
    uid = chamilo.add_user("00021", username="enunez", firstname="E", lastname="N",
                           email="old@school.example", active=False)
    project(five_people())
    assert project.cli("adopt").code == 0
    result = project.cli("apply")
    assert result.code == 0, result.out + result.err
    elise = chamilo.user_by_key("00021")
    assert elise["id"] == uid and elise["active"]
    assert elise["firstname"] == "Élise"
    again = project.cli("apply")
    assert again.code == 0 and "0 update" in again.out
