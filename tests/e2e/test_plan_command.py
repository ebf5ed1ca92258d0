"""`chamilo-sync plan` end to end: a temp folder, the real CLI, JSON and exit codes."""

import json
import shutil
import sqlite3

from tests.support.cli import HEADER, REPO, person_row, run_cli, write_project


def plan_json(tmp_path, *extra_args):
    result = run_cli("--config", str(tmp_path / "chamilo-sync.toml"), "plan", "--format", "json",
                     *extra_args)
    return result, (json.loads(result.out) if result.out.strip().startswith("{") else None)


def test_plan_of_a_new_export_lists_every_create_in_the_json_of_the_spec(tmp_path):
    write_project(tmp_path, HEADER + person_row("00017", "Ann", "Dupré", phone="+33 1")
                  + person_row("00018", "Bruno", "Martin", role="teacher"))
    result, report = plan_json(tmp_path)
    assert result.code == 0, result.err
    assert report["mode"] == "plan"
    assert set(report) >= {"mode", "started_at", "finished_at", "sources", "summary", "changes", "rejected"}
    assert "outcomes" not in report
    assert report["sources"] == [{"name": "sis", "rows": 2, "rejected": 0}]
    assert report["summary"] == {"create": 2, "update": 0, "enable": 0, "disable": 0,
                                 "unchanged": 0, "rejected": 0, "failed": 0}
    ann = next(c for c in report["changes"] if c["key"] == "00017")
    assert ann["action"] == "create"
    assert ann["fields"]["loginname"] == "adupre"
    assert ann["fields"]["status"] == 5 and isinstance(ann["fields"]["status"], int)
    assert ann["fields"]["expiration_date"] == "2027-06-30 23:59:59"
    assert ann["fields"]["extra"] == {"department": "Sciences"}
    assert "password" not in json.dumps(report)
    bruno = next(c for c in report["changes"] if c["key"] == "00018")
    assert bruno["fields"]["status"] == 1


def test_plan_writes_nothing_not_even_the_state_store(tmp_path):
    write_project(tmp_path, HEADER + person_row("00017"))
    result, _ = plan_json(tmp_path)
    assert result.code == 0, result.err
    assert not (tmp_path / "state.db").exists()


def test_rejected_rows_are_reported_with_line_key_field_and_reason_and_exit_1(tmp_path):
    csv = (HEADER + person_row("00017") + person_row("00018", email="not-an-email")
           + '00019,"Multi\nLine",Lee,m@school.example,student,Sciences,,,active\n'
           + person_row("00020", role="janitor"))
    write_project(tmp_path, csv, mapping=(REPO / "mappings/people.toml").read_text()
                  .replace(", default = 5 }", " }"))
    result, report = plan_json(tmp_path)
    assert result.code == 1, result.err
    rejected = {r["key"]: r for r in report["rejected"]}
    assert rejected["00018"] == {**rejected["00018"], "source": "sis", "line": 3, "field": "email"}
    assert rejected["00020"]["line"] == 6  # the quoted newline makes record 00019 span lines 4-5
    assert rejected["00020"]["field"] == "status"
    assert report["summary"]["rejected"] == 2 and report["summary"]["create"] == 2
    assert report["sources"] == [{"name": "sis", "rows": 4, "rejected": 2}]


def test_duplicate_keys_reject_every_row_involved(tmp_path):
    csv = HEADER + person_row("00017") + person_row("00017", "Other", "Person") + person_row("00018")
    write_project(tmp_path, csv)
    result, report = plan_json(tmp_path)
    assert result.code == 1
    assert sorted(r["line"] for r in report["rejected"]) == [2, 3]
    assert [c["key"] for c in report["changes"]] == ["00018"]


def test_a_mapped_column_missing_from_the_file_is_a_config_error_naming_both(tmp_path):
    write_project(tmp_path, HEADER.replace(",dept", ",department") + person_row("00017"))
    result = run_cli("--config", str(tmp_path / "chamilo-sync.toml"), "plan")
    assert result.code == 2
    assert "dept" in result.err and "people.csv" in result.err and "Traceback" not in result.err


def test_an_empty_export_stops_the_run_with_exit_2(tmp_path):
    write_project(tmp_path, "")
    result = run_cli("--config", str(tmp_path / "chamilo-sync.toml"), "plan")
    assert result.code == 2 and "empty" in result.err


def test_a_header_only_export_stops_the_run_with_exit_2(tmp_path):
    write_project(tmp_path, HEADER)
    result = run_cli("--config", str(tmp_path / "chamilo-sync.toml"), "plan")
    assert result.code == 2 and "no rows" in result.err


def test_a_broken_config_lists_every_problem_and_exits_2(tmp_path):
    cfg = write_project(tmp_path, HEADER + person_row("1"))
    cfg.write_text(cfg.read_text().replace('client_ip = "127.0.0.1"', 'batch_size = 0'))
    result = run_cli("--config", str(cfg), "plan")
    assert result.code == 2
    assert "chamilo.client_ip" in result.err and "chamilo.batch_size" in result.err


def test_config_is_found_through_the_environment_variable(tmp_path):
    cfg = write_project(tmp_path, HEADER + person_row("00017"))
    result = run_cli("plan", env={"CHAMILO_SYNC_CONFIG": str(cfg)})
    assert result.code == 0, result.err
    assert "00017" in result.out


def test_config_defaults_to_the_current_folder(tmp_path):
    write_project(tmp_path, HEADER + person_row("00017"))
    result = run_cli("plan", cwd=tmp_path)
    assert result.code == 0, result.err


def test_text_plan_is_readable_and_output_goes_to_a_file(tmp_path):
    write_project(tmp_path, HEADER + person_row("00017", "Ann", "Dupré"))
    out = tmp_path / "plan.txt"
    result = run_cli("--config", str(tmp_path / "chamilo-sync.toml"), "plan", "--output", str(out))
    assert result.code == 0 and result.out == ""
    text = out.read_text()
    assert "create" in text and "00017" in text and "Ann Dupré" in text


def test_plan_against_an_existing_store_shows_updates_and_disables(tmp_path):
    shutil.copy(REPO / "state.db.example", tmp_path / "state.db")
    db = sqlite3.connect(tmp_path / "state.db")
    keys = [k for (k,) in db.execute("select key from users order by key")]
    db.close()
    assert len(keys) >= 5
    # the example export minus its last two people, one email changed
    rows = (REPO / "examples/people.csv").read_text().splitlines(keepends=True)
    kept = [r for r in rows[1:] if r.split(",")[0] not in keys[-2:]]
    kept[0] = kept[0].replace("Ann.Dupre@school.example", "ann.new@school.example")
    write_project(tmp_path, rows[0] + "".join(kept),
                  extra='[safety]\nmax_disable = "50%"\n')
    result, report = plan_json(tmp_path)
    assert result.code == 0, result.err
    actions = {(c["action"], c["key"]) for c in report["changes"]}
    assert {("disable", k) for k in keys[-2:] if k != "00024"} <= actions
    # one source: entries are exactly SPEC §6's shape (no extra keys)
    assert {"action": "disable", "key": keys[-1]} in report["changes"] or keys[-1] == "00024"
    update = next(c for c in report["changes"] if c["action"] == "update")
    assert set(update) == {"action", "key", "changes"}
    assert update["changes"] == {"email": {"old": "ann.dupre@school.example", "new": "ann.new@school.example"}}


def test_csv_and_html_formats_escape_what_the_export_contains(tmp_path):
    write_project(tmp_path, HEADER + person_row("00017", "=cmd|' /C calc'!A0", "<b>Lee</b>", email="x@school.example"))
    out_csv = run_cli("--config", str(tmp_path / "chamilo-sync.toml"), "plan", "--format", "csv")
    assert "'=cmd" in out_csv.out and "\n=cmd" not in out_csv.out and ",=cmd" not in out_csv.out
    out_html = run_cli("--config", str(tmp_path / "chamilo-sync.toml"), "plan", "--format", "html")
    assert "&lt;b&gt;Lee&lt;/b&gt;" in out_html.out and "<b>Lee</b>" not in out_html.out


def test_plan_warns_when_apply_would_refuse_the_disables(tmp_path):
    shutil.copy(REPO / "state.db.example", tmp_path / "state.db")
    write_project(tmp_path, HEADER + person_row("00017", "Ann", "Dupré"))
    result = run_cli("--config", str(tmp_path / "chamilo-sync.toml"), "plan")
    assert result.code == 0
    assert "apply would refuse this run" in result.out and "--max-disable" in result.out
    assert "apply would refuse this plan" in result.err
