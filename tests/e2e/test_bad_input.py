"""A corpus of bad input, end to end through `chamilo-sync plan` (which never contacts Chamilo).

Every case must end with a clear message naming the file, the line (or key path) and the
field or column, the exit code of SPEC §5 (2: nothing attempted; 1: finished with rejected
rows) and never a Python traceback. Rejected rows are reported in the JSON plan and the good
rows are still planned.

Most cases call ``sync.cli.main`` in-process (cheap); a handful go through the real
subprocess, as an administrator would run the tool.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import random
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from sync.cli import main
from tests.support.cli import HEADER, REPO, Completed, person_row, run_cli, write_project

EXAMPLE_MAPPING = (REPO / "mappings/people.toml").read_text(encoding="utf-8")
NO_STATUS_DEFAULT = EXAMPLE_MAPPING.replace(", default = 5 }", " }")
assert NO_STATUS_DEFAULT != EXAMPLE_MAPPING


# ------------------------------------------------------------------------------- helpers


def csv_source(extra: str = "", *, name: str = "sis", path: str = "people.csv",
               mapping: str = "people.toml") -> str:
    return (f'[[source]]\nname = "{name}"\ntype = "csv"\npath = "{path}"\n'
            f'mapping = "{mapping}"\n{extra}\n')


def project(tmp_path: Path, csv_text: str = "", *, csv_bytes: bytes | None = None,
            mapping: str | None = None, source_extra: str = "") -> Path:
    """write_project, with the CSV given as raw bytes if need be and extra source keys."""
    config = write_project(tmp_path, csv_text, mapping=mapping,
                           sources=csv_source(source_extra) if source_extra else None)
    if csv_bytes is not None:
        (tmp_path / "people.csv").write_bytes(csv_bytes)
    return config


def edit_config(config: Path, old: str, new: str) -> Path:
    text = config.read_text(encoding="utf-8")
    assert old in text, old
    config.write_text(text.replace(old, new, 1), encoding="utf-8")
    return config


def _drop_log_handlers() -> None:
    """setup_logging attaches a handler to the runner's temporary stderr; remove it."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_chamilo_sync", False):
            root.removeHandler(handler)


def cli(*args: str) -> Completed:
    """The CLI in-process. An exception escaping it is what the real command would print as a
    traceback: it fails the test."""
    result = CliRunner().invoke(main, list(args))
    _drop_log_handlers()
    exc = result.exception
    if exc is not None and not isinstance(exc, SystemExit):
        raise AssertionError(f"Traceback: {type(exc).__name__}: {exc} escaped the CLI") from exc
    return Completed(result.exit_code, result.stdout, result.stderr)


def plan(config: Path, *args: str) -> Completed:
    return cli("--config", str(config), "plan", *args)


def plan_json(config: Path, *args: str) -> tuple[Completed, dict]:
    result = plan(config, "--format", "json", *args)
    assert "Traceback" not in result.err + result.out
    assert result.out.lstrip().startswith("{"), (result.code, result.err)
    return result, json.loads(result.out)


def assert_refused(result: Completed, *needles: str, code: int = 2) -> None:
    """Exit ``code``, nothing printed on stdout, a message on stderr containing every needle,
    no traceback and no "internal error"."""
    assert result.code == code, (result.code, result.err)
    assert "Traceback" not in result.err + result.out
    assert "internal error" not in result.err, result.err
    assert any(row.startswith("error: ") for row in result.err.splitlines()), result.err
    assert result.out == "", result.out
    for needle in needles:
        assert needle in result.err, f"{needle!r} not in:\n{result.err}"


def file_in(tmp_path: Path, name: str) -> str:
    return str((tmp_path / name).resolve())


def rejected_by_line(report: dict) -> dict[int, dict]:
    lines = [r["line"] for r in report["rejected"]]
    assert len(lines) == len(set(lines)), f"one entry per rejected row: {lines}"
    for r in report["rejected"]:
        assert set(r) >= {"source", "line", "key", "field", "reason"} and "dn" not in r, r
        assert r["reason"].strip(), r
    return {r["line"]: r for r in report["rejected"]}


def planned_keys(report: dict) -> list[str]:
    return [c["key"] for c in report["changes"]]


# ------------------------------------------------------------ malformed CSVs: nothing attempted


def garbage() -> bytes:
    rnd = random.Random(20240611)
    return bytes(rnd.randrange(256) for _ in range(4096)) + b"\x00\x00" + b"\xff\xfe\x00"


def utf16_with_bom() -> bytes:
    return (HEADER + person_row("1", "Zoé", "Dupré")).encode("utf-16")


@pytest.mark.parametrize("data, needles", [
    pytest.param(garbage(), ["is not a text CSV file", "binary content at byte", "line"],
                 id="random-bytes-with-NULs"),
    pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" + bytes(range(256)),
                 ["is not a text CSV file", "byte 8"], id="png-named-csv"),
    pytest.param(b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00" + b"[Content_Types].xml" * 4,
                 ["is not a text CSV file", "Excel"], id="xlsx-zip-named-csv"),
    pytest.param(utf16_with_bom(), ["UTF-16", 'encoding = "utf-16"'], id="utf16-undeclared"),
])
def test_a_file_that_is_not_text_stops_the_run_naming_the_file_and_where(tmp_path, data, needles):
    config = project(tmp_path, csv_bytes=data)
    assert_refused(plan(config), file_in(tmp_path, "people.csv"), *needles)


def test_random_bytes_stop_the_real_command_without_a_traceback(tmp_path):
    config = project(tmp_path, csv_bytes=garbage())
    result = run_cli("--config", str(config), "plan")
    assert_refused(result, file_in(tmp_path, "people.csv"), "is not a text CSV file")


def test_a_declared_encoding_the_file_does_not_use_names_the_line_column_and_byte(tmp_path):
    text = HEADER + person_row("1") + person_row("2", "Bob") + person_row("3", "Zoé", "Dupré")
    config = project(tmp_path, csv_bytes=text.encode("cp1252"), source_extra='encoding = "utf-8"')
    # é is the 5th byte of line 4 ("3,Zoé,…")
    assert_refused(plan(config), file_in(tmp_path, "people.csv"), "line 4 column 5", "0xE9",
                   "utf-8")


def test_the_same_cp1252_file_without_a_declared_encoding_is_read_with_its_accents(tmp_path):
    text = HEADER + person_row("1") + person_row("3", "Zoé", "Dupré", email="zoe@school.example")
    result, report = plan_json(project(tmp_path, csv_bytes=text.encode("cp1252")))
    assert result.code == 0, result.err
    zoe = next(c for c in report["changes"] if c["key"] == "3")
    assert zoe["fields"]["firstname"] == "Zoé" and zoe["fields"]["lastname"] == "Dupré"


def test_utf16_is_read_when_declared(tmp_path):
    config = project(tmp_path, csv_bytes=utf16_with_bom(), source_extra='encoding = "utf-16"')
    result, report = plan_json(config)
    assert result.code == 0, result.err
    assert report["changes"][0]["fields"]["lastname"] == "Dupré"


def test_an_unbalanced_quote_mid_file_names_the_line_where_the_quote_opened(tmp_path):
    csv_text = (HEADER + person_row("1") + person_row("2")
                + '3,"Ann,Lee,a@school.example,student,Sciences,,,active\n'
                + person_row("4") + person_row("5"))
    result = run_cli("--config", str(project(tmp_path, csv_text)), "plan")
    assert_refused(result, file_in(tmp_path, "people.csv"), "line 4 column 3", "unbalanced quote")


def test_a_quote_that_swallows_lines_and_closes_later_names_where_it_opened(tmp_path):
    csv_text = (HEADER + person_row("1")
                + '2,"Ann,Lee,a@school.example,student,Sciences,,,active\n'
                + person_row("3")
                + '4,Bo,"Lee" x,b@school.example,student,Sciences,,,active\n'
                + person_row("5"))
    assert_refused(plan(project(tmp_path, csv_text)), file_in(tmp_path, "people.csv"),
                   "line 3 column 3", "unbalanced quote", "line 5")


def test_a_header_only_file_stops_the_run(tmp_path):
    assert_refused(plan(project(tmp_path, HEADER)), file_in(tmp_path, "people.csv"), "no rows")


@pytest.mark.parametrize("content", [b"", b"\n\r\n  \n", b"\xef\xbb\xbf"],
                         ids=["zero-bytes", "blank-lines", "bom-only"])
def test_an_empty_file_stops_the_run(tmp_path, content):
    assert_refused(plan(project(tmp_path, csv_bytes=content)), file_in(tmp_path, "people.csv"),
                   "empty")


def test_a_missing_file_stops_the_run_naming_its_path(tmp_path):
    config = project(tmp_path, HEADER + person_row("1"))
    (tmp_path / "people.csv").unlink()
    assert_refused(plan(config), file_in(tmp_path, "people.csv"), "no such file")


def test_a_directory_given_as_the_csv_path_stops_the_run(tmp_path):
    config = project(tmp_path, HEADER + person_row("1"))
    (tmp_path / "people.csv").unlink()
    (tmp_path / "people.csv").mkdir()
    assert_refused(plan(config), file_in(tmp_path, "people.csv"), "directory")


def test_a_file_without_read_permission_stops_the_run(tmp_path):
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        pytest.skip("running as root: chmod 000 does not stop root from reading the file")
    config = project(tmp_path, HEADER + person_row("1"))
    (tmp_path / "people.csv").chmod(0)
    try:
        assert_refused(plan(config), file_in(tmp_path, "people.csv"), "ermission denied")
    finally:
        (tmp_path / "people.csv").chmod(0o644)


def test_a_header_naming_a_column_twice_stops_the_run_naming_the_column(tmp_path):
    config = project(tmp_path, HEADER.replace(",phone,", ",email,") + person_row("1"))
    assert_refused(plan(config), file_in(tmp_path, "people.csv"), "line 1", "'email'",
                   "columns 4 and 7")


# ------------------------------------------------------ odd but readable CSVs: the run goes on


def test_a_one_megabyte_field_is_planned_whole(tmp_path):
    huge = "A" * (1 << 20)
    result, report = plan_json(project(tmp_path, HEADER + person_row("1")
                                       + person_row("2", "Bob", huge, email="bob@school.example")))
    assert result.code == 0, result.err
    bob = next(c for c in report["changes"] if c["key"] == "2")
    assert bob["fields"]["lastname"] == huge
    assert sorted(planned_keys(report)) == ["1", "2"]


def test_a_row_longer_than_the_header_is_rejected_with_its_line_and_the_others_planned(tmp_path):
    csv_text = (HEADER + person_row("1")
                + person_row("2").rstrip("\n") + ",surplus,cells\n"   # 11 fields, line 3
                + "3,Ann\n"                                           # short: cells missing
                + person_row("4") + person_row("5").rstrip("\n") + ",,\n")  # trailing delimiters
    result, report = plan_json(project(tmp_path, csv_text))
    assert result.code == 1, result.err
    rejected = rejected_by_line(report)
    assert set(rejected) == {3, 4}
    assert rejected[3]["key"] == "2" and rejected[3]["source"] == "sis"
    assert "11" in rejected[3]["reason"] and "9" in rejected[3]["reason"]
    assert rejected[4]["key"] == "3" and rejected[4]["field"] == "lastname"
    assert sorted(planned_keys(report)) == ["1", "4", "5"]
    assert report["sources"] == [{"name": "sis", "rows": 5, "rejected": 2}]
    assert report["summary"]["rejected"] == 2 and report["summary"]["create"] == 3


def test_text_after_a_closing_quote_rejects_only_that_row(tmp_path):
    csv_text = (HEADER + person_row("1")
                + '2,Ann,"The Hammer" Lee,a@school.example,student,Sciences,,,active\n'
                + person_row("3"))
    result, report = plan_json(project(tmp_path, csv_text))
    assert result.code == 1, result.err
    rejected = rejected_by_line(report)
    assert list(rejected) == [3] and rejected[3]["key"] == "2"
    assert "quote" in rejected[3]["reason"]
    assert sorted(planned_keys(report)) == ["1", "3"]


FORMULAS = {"firstname": "=cmd|' /C calc'!A0", "lastname": "+SUM(A1)", "phone": "-2",
            "extra.department": "@x"}


def test_formula_like_values_are_planned_verbatim_in_json_and_neutralised_in_csv(tmp_path):
    config = project(tmp_path, HEADER + person_row(
        "1", FORMULAS["firstname"], FORMULAS["lastname"], email="x@school.example",
        phone=FORMULAS["phone"], dept=FORMULAS["extra.department"]))
    result, report = plan_json(config)
    assert result.code == 0, result.err
    fields = report["changes"][0]["fields"]
    assert fields["firstname"] == FORMULAS["firstname"]
    assert fields["lastname"] == FORMULAS["lastname"]
    assert fields["phone"] == FORMULAS["phone"]
    assert fields["extra"] == {"department": FORMULAS["extra.department"]}

    as_csv = plan(config, "--format", "csv")
    assert as_csv.code == 0, as_csv.err
    rows = list(csv.reader(io.StringIO(as_csv.out)))
    header, body = rows[0], rows[1:]
    new = {row[header.index("field")]: row[header.index("new")] for row in body}
    for field, value in FORMULAS.items():
        assert new[field] == "'" + value, (field, new[field])
    for row in body:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), row


def test_crlf_bom_and_semicolons_together_are_read_with_true_line_numbers(tmp_path):
    text = (HEADER + person_row("1", "Zoé", "Dupré", email="zoe@school.example")
            + '2,"Multi\nLine",Lee,m@school.example,student,Sciences,,,active\n'
            + person_row("3", email="not-an-email") + person_row("4"))
    data = b"\xef\xbb\xbf" + text.replace(",", ";").replace("\n", "\r\n").encode("utf-8")
    result, report = plan_json(project(tmp_path, csv_bytes=data))
    assert result.code == 1, result.err
    rejected = rejected_by_line(report)
    assert list(rejected) == [5]  # the quoted line break makes record 2 span lines 3-4
    assert rejected[5]["key"] == "3" and rejected[5]["field"] == "email"
    assert sorted(planned_keys(report)) == ["1", "2", "4"]
    zoe = next(c for c in report["changes"] if c["key"] == "1")
    assert zoe["fields"]["firstname"] == "Zoé"
    multi = next(c for c in report["changes"] if c["key"] == "2")
    assert multi["fields"]["firstname"] in ("Multi\nLine", "Multi\r\nLine")


# ----------------------------------------------------------------- rows with bad values: exit 1


def bad_value_corpus() -> tuple[str, dict[int, tuple[str, str, str]], list[str]]:
    """(csv text, {line: (key, Chamilo field, text the reason must contain)}, good keys)."""
    rows: list[tuple[str, tuple[str, str, str] | None]] = [
        (person_row("1001"), None),
        (person_row("1002", email="no-at.example"), ("1002", "email", "no-at.example")),
        (person_row("1003", email="a@@b.example"), ("1003", "email", "a@@b.example")),
        (person_row("1004", email="ann lee@school.example"),
         ("1004", "email", "ann lee@school.example")),
        (person_row("1005", email="@school.example"), ("1005", "email", "@school.example")),
        (person_row("1006", email="ann@localhost"), ("1006", "email", "ann@localhost")),
        (person_row("1007", end="31/02/2027"), ("1007", "expiration_date", "31/02/2027")),
        (person_row("1008", end="2027-06-30"), ("1008", "expiration_date", "2027-06-30")),
        (person_row("1009", end="soon"), ("1009", "expiration_date", "soon")),
        (person_row("1010", role="janitor"), ("1010", "status", "janitor")),
        (person_row("1011", first=""), ("1011", "firstname", "empty")),
        (person_row("1012", email=""), ("1012", "email", "empty")),
        (person_row("", "Nokey", email="nokey@school.example"), ("", "key", "empty")),
        (person_row("   ", "Blank", email="blank@school.example"), ("", "key", "empty")),
        (person_row("1013", "Dup", "One"), ("1013", "key", "1013")),
        (person_row("1013", "Dup", "Two"), ("1013", "key", "1013")),
        (person_row(" 1013", "Dup", "Three"), ("1013", "key", "1013")),
        (person_row("X1014", "Case", "Upper"), ("X1014", "key", "x1014")),
        (person_row("x1014", "Case", "Lower"), ("x1014", "key", "X1014")),
        (person_row("1015", "Sam", "Smith"), ("1015", "loginname", "ssmith")),
        (person_row("1016", "Sue", "Smith"), ("1016", "loginname", "ssmith")),
        (person_row("1017", email="both-bad", end="99/99/9999"), ("1017", "email", "both-bad")),
        (person_row("1018", "Bruno", "Martin"), None),
        (person_row("1019", "Zoé", "Dupré"), None),
    ]
    text = HEADER + "".join(row for row, _ in rows)
    expected = {line: exp for line, (_, exp) in enumerate(rows, start=2) if exp}
    return text, expected, ["1001", "1018", "1019"]


def test_every_bad_row_is_reported_with_source_line_key_field_and_reason(tmp_path):
    text, expected, good = bad_value_corpus()
    config = project(tmp_path, text, mapping=NO_STATUS_DEFAULT)
    result = run_cli("--config", str(config), "plan", "--format", "json")
    assert result.code == 1, result.err
    assert "Traceback" not in result.err + result.out
    report = json.loads(result.out)
    rejected = rejected_by_line(report)
    assert set(rejected) == set(expected), sorted(set(rejected) ^ set(expected))
    for line, (key, field, text_in_reason) in expected.items():
        entry = rejected[line]
        assert entry["source"] == "sis", entry
        assert (entry["key"], entry["field"]) == (key, field), entry
        assert text_in_reason in entry["reason"], entry
    assert sorted(planned_keys(report)) == good
    assert all(c["action"] == "create" for c in report["changes"])
    assert report["summary"]["rejected"] == len(expected)
    assert report["summary"]["create"] == len(good)
    assert report["sources"] == [{"name": "sis", "rows": len(expected) + len(good),
                                  "rejected": len(expected)}]


def test_duplicate_rows_each_name_the_other_lines_involved(tmp_path):
    text, _, _ = bad_value_corpus()
    _, report = plan_json(project(tmp_path, text, mapping=NO_STATUS_DEFAULT))
    rejected = rejected_by_line(report)
    # key 1013 on lines 16, 17, 18 (the third up to surrounding spaces)
    for line, others in {16: (17, 18), 17: (16, 18), 18: (16, 17)}.items():
        for other in others:
            assert str(other) in rejected[line]["reason"], rejected[line]
    assert "20" in rejected[19]["reason"] and "19" in rejected[20]["reason"]  # X1014 / x1014
    assert "22" in rejected[21]["reason"] and "21" in rejected[22]["reason"]  # loginname ssmith


def test_the_text_plan_of_rejected_rows_names_line_key_and_field(tmp_path):
    config = project(tmp_path, HEADER + person_row("1") + person_row("2", email="no-at.example"))
    result = plan(config)
    assert result.code == 1, result.err
    assert "Traceback" not in result.err + result.out
    line = next(line for line in result.out.splitlines() if "no-at.example" in line)
    assert "sis" in line and "line 3" in line and "'2'" in line and "email" in line
    assert any("create" in row and " 1 " in row for row in result.out.splitlines())


def test_an_unmapped_status_is_planned_with_the_default_when_there_is_one(tmp_path):
    result, report = plan_json(project(tmp_path, HEADER + person_row("1", role="janitor")))
    assert result.code == 0, result.err
    assert report["changes"][0]["fields"]["status"] == 5


# --------------------------------------------------------------- broken mapping files: exit 2


def mapping_error(tmp_path: Path, mapping: str, csv_text: str | None = None) -> Completed:
    config = project(tmp_path, csv_text or HEADER + person_row("1"), mapping=mapping)
    return plan(config)


def test_a_mapping_that_is_not_toml_names_the_file_and_the_position(tmp_path):
    broken = EXAMPLE_MAPPING.replace('column = "person_id"', 'column = "person_id', 1)
    assert broken != EXAMPLE_MAPPING
    line = broken.splitlines().index('column = "person_id') + 1
    assert_refused(mapping_error(tmp_path, broken), file_in(tmp_path, "people.toml"),
                   "not valid TOML", f"line {line}")


def test_a_mapping_saved_in_windows_1252_names_the_file_and_the_place(tmp_path):
    text = ("# Mapping de l'export du rectorat (élèves et enseignants)\n"
            + EXAMPLE_MAPPING.replace("→", "->"))
    config = project(tmp_path, HEADER + person_row("1"))
    (tmp_path / "people.toml").write_bytes(text.encode("cp1252"))
    result = plan(config)
    assert_refused(result, file_in(tmp_path, "people.toml"), "UTF-8")
    # the first é is on line 1, at byte 35 (0-based) of the file
    assert re.search(r"\bline 1\b|\bbyte 35\b", result.err), result.err


@pytest.mark.parametrize("old, new, needles", [
    pytest.param("loginname = {", "username = {",
                 ["fields.username", "'username'", "did you mean 'loginname'"],
                 id="unknown-field-username"),
    pytest.param('firstname = { column = "first_name"',
                 'firstname = { column = "first_name", template = "{first_name}"',
                 ["fields.firstname", "exactly one of column, template, value", "column, template"],
                 id="column-and-template"),
    pytest.param('email     = { column = "email", transform = ["strip", "lower"] }',
                 'email     = { column = "email", transform = ["strip", "lowercase"] }',
                 ["fields.email.transform", "'lowercase'", "did you mean 'lower'"],
                 id="unknown-transform"),
    pytest.param("map = { student = 5, teacher = 1, staff = 1 }", 'map = ["student", "teacher"]',
                 ["fields.status.map", "table"], id="map-as-a-list"),
    pytest.param("[key]", "[keys]", ["key: missing", "[key]"], id="missing-key"),
    pytest.param("{first_name[0]}{last_name}", "{first_name[0]}{last_name",
                 ["fields.loginname.template", "{first_name[0]}{last_name"],
                 id="template-syntax-error"),
])
def test_a_broken_mapping_names_the_file_the_key_path_and_the_problem(tmp_path, old, new, needles):
    assert old in EXAMPLE_MAPPING, old
    result = mapping_error(tmp_path, EXAMPLE_MAPPING.replace(old, new, 1))
    assert_refused(result, file_in(tmp_path, "people.toml"), *needles)


def test_a_mapping_without_key_section_at_all_is_refused(tmp_path):
    head, rest = EXAMPLE_MAPPING.split("[key]", 1)
    no_key = head + "[fields]" + rest.split("[fields]", 1)[1]
    assert_refused(mapping_error(tmp_path, no_key), file_in(tmp_path, "people.toml"),
                   "key: missing")


def test_every_problem_of_a_mapping_file_is_reported_at_once(tmp_path):
    broken = (EXAMPLE_MAPPING.replace("loginname = {", "username = {", 1)
              .replace('["strip", "lower"] }', '["strip", "lowercase"] }', 1)
              .replace("map = { student = 5, teacher = 1, staff = 1 }", 'map = ["student"]', 1)
              .replace('language  = { value = "english" }',
                       'language  = { value = "english", column = "lang" }', 1))
    result = mapping_error(tmp_path, broken)
    assert_refused(result, "fields.username", "fields.email.transform", "fields.status.map",
                   "fields.language")
    errors = [line for line in result.err.splitlines() if line.startswith("error: ")]
    assert all(file_in(tmp_path, "people.toml") in line for line in errors), errors


def test_broken_mappings_of_two_sources_are_reported_together(tmp_path):
    config = write_project(tmp_path, HEADER + person_row("1"),
                           mapping=EXAMPLE_MAPPING.replace("loginname = {", "username = {", 1),
                           sources=csv_source() + csv_source(name="hr", mapping="hr.toml"))
    (tmp_path / "hr.toml").write_text(EXAMPLE_MAPPING.replace("[key]", "[kee]", 1),
                                      encoding="utf-8")
    assert_refused(plan(config), file_in(tmp_path, "people.toml"), "fields.username",
                   file_in(tmp_path, "hr.toml"), "kee")


def test_a_mapped_column_absent_from_the_csv_names_the_column_the_mapping_and_the_csv(tmp_path):
    csv_text = HEADER.replace(",dept,", ",department,").replace(",phone,", ",tel,") \
        + person_row("1")
    result = mapping_error(tmp_path, EXAMPLE_MAPPING, csv_text)
    assert_refused(result, "'dept'", "'phone'", "extra.department", "fields.phone",
                   file_in(tmp_path, "people.toml"), file_in(tmp_path, "people.csv"))


def test_a_column_whose_name_starts_with_an_underscore_can_be_mapped(tmp_path):
    csv_text = HEADER.replace(",dept,", ",_dept,") + person_row("1", dept="Arts")
    mapping = EXAMPLE_MAPPING.replace('column = "dept"', 'column = "_dept"', 1)
    result, report = plan_json(project(tmp_path, csv_text, mapping=mapping))
    assert result.code == 0, result.err
    assert report["changes"][0]["fields"]["extra"] == {"department": "Arts"}


# ---------------------------------------------------------------- broken config files: exit 2


def test_a_config_that_is_not_toml_names_the_file_and_the_position(tmp_path):
    config = edit_config(project(tmp_path, HEADER + person_row("1")), "[state]", "[state")
    line = config.read_text().splitlines().index("[state") + 1
    assert_refused(plan(config), file_in(tmp_path, "chamilo-sync.toml"), "not valid TOML",
                   f"line {line}")


def test_an_unknown_section_suggests_the_right_one(tmp_path):
    config = edit_config(project(tmp_path, HEADER + person_row("1")), "[state]",
                         "[safty]\nmax_disable = 3\n\n[state]")
    assert_refused(plan(config), file_in(tmp_path, "chamilo-sync.toml"), "safty",
                   "did you mean 'safety'")


def test_an_unknown_key_suggests_the_right_one(tmp_path):
    config = edit_config(project(tmp_path, HEADER + person_row("1")), "[chamilo]",
                         "[chamilo]\nbatchsize = 10")
    assert_refused(plan(config), file_in(tmp_path, "chamilo-sync.toml"), "chamilo.batchsize",
                   "did you mean 'batch_size'")


def test_an_unknown_key_in_a_source_suggests_the_right_one(tmp_path):
    config = project(tmp_path, HEADER + person_row("1"), source_extra='delimeter = ";"')
    assert_refused(plan(config), file_in(tmp_path, "chamilo-sync.toml"), "source[0].delimeter",
                   "did you mean 'delimiter'")


def test_values_of_the_wrong_type_are_each_named_by_key(tmp_path):
    config = edit_config(project(tmp_path, HEADER + person_row("1")), "[chamilo]",
                         '[chamilo]\nbatch_size = "ten"\nverify_tls = "yes"\ntimeout = "fast"')
    edit_config(config, 'name = "sis"', "name = 7")
    assert_refused(plan(config), file_in(tmp_path, "chamilo-sync.toml"), "chamilo.batch_size",
                   "chamilo.verify_tls", "chamilo.timeout", "source[0].name")


SECRET = "S3cr3t-K3y-never-shown-7f3a"


def test_a_security_key_written_in_clear_is_refused_and_never_echoed(tmp_path):
    config = edit_config(project(tmp_path, HEADER + person_row("1")),
                         'security_key_env = "TEST_CHAMILO_KEY"', f'security_key = "{SECRET}"')
    result = run_cli("-v", "--config", str(config), "plan", "--format", "json")
    assert_refused(result, file_in(tmp_path, "chamilo-sync.toml"), "chamilo.security_key",
                   "security_key_env", "security_key_file")
    assert SECRET not in result.out + result.err
    assert SECRET[:8] not in result.out + result.err


@pytest.mark.parametrize("old, new, needles", [
    pytest.param('security_key_env = "TEST_CHAMILO_KEY"',
                 f'security_key = "{SECRET}"\nsecurity_key_env = "TEST_CHAMILO_KEY"',
                 ["chamilo.security_key"], id="clear-key-next-to-env"),
    pytest.param('security_key_env = "TEST_CHAMILO_KEY"',
                 f'security_key_env = "TEST_CHAMILO_KEY"\nsecret_key = "{SECRET}"',
                 ["chamilo.secret_key", "unknown key"], id="clear-key-under-another-name"),
    pytest.param('security_key_env = "TEST_CHAMILO_KEY"', f'security_key = "{SECRET}',
                 ["not valid TOML", "line 3"], id="clear-key-with-broken-quotes"),
    pytest.param("[state]", f"[safty]\nkey = \"{SECRET}\"\n\n[state]",
                 ["safty"], id="clear-key-in-unknown-section"),
])
def test_a_secret_in_a_broken_config_is_never_echoed(tmp_path, old, new, needles):
    config = edit_config(project(tmp_path, HEADER + person_row("1")), old, new)
    result = plan(config)
    assert_refused(result, file_in(tmp_path, "chamilo-sync.toml"), *needles)
    assert SECRET not in result.out + result.err


def test_an_ldap_bind_password_written_in_clear_is_refused_and_never_echoed(tmp_path):
    ldap = ('[[source]]\nname = "staff"\ntype = "ldap"\nurl = "ldaps://dc1.example.edu"\n'
            'bind_dn = "cn=sync,dc=example,dc=edu"\n'
            f'bind_password = "{SECRET}"\nbase_dn = "dc=example,dc=edu"\nmapping = "people.toml"\n')
    config = write_project(tmp_path, HEADER + person_row("1"), sources=ldap)
    result = plan(config)
    assert_refused(result, file_in(tmp_path, "chamilo-sync.toml"), "source[0].bind_password",
                   "bind_password_env")
    assert SECRET not in result.out + result.err


def test_a_source_written_as_a_single_table_asks_for_double_brackets(tmp_path):
    config = edit_config(project(tmp_path, HEADER + person_row("1")), "[[source]]", "[source]")
    assert_refused(plan(config), file_in(tmp_path, "chamilo-sync.toml"), "source", "[[source]]")


def test_relative_paths_are_resolved_from_the_config_folder_not_the_current_one(tmp_path):
    conf, elsewhere = tmp_path / "conf", tmp_path / "elsewhere"
    (conf / "exports").mkdir(parents=True)
    (conf / "maps").mkdir()
    elsewhere.mkdir()
    write_project(conf, HEADER + person_row("1"),
                  sources=csv_source(path="exports/people.csv", mapping="maps/people.toml"))
    (conf / "people.csv").rename(conf / "exports/people.csv")
    (conf / "people.toml").rename(conf / "maps/people.toml")
    # decoys in the current folder, which must not be read
    (elsewhere / "exports").mkdir()
    (elsewhere / "exports/people.csv").write_text("garbage\x00", encoding="utf-8")

    ok = run_cli("--config", "../conf/chamilo-sync.toml", "plan", "--format", "json", cwd=elsewhere)
    assert ok.code == 0, ok.err
    assert [c["key"] for c in json.loads(ok.out)["changes"]] == ["1"]
    assert not (elsewhere / "state.db").exists() and not (conf / "state.db").exists()

    (conf / "exports/people.csv").unlink()
    missing = run_cli("--config", "../conf/chamilo-sync.toml", "plan", cwd=elsewhere)
    assert_refused(missing, str((conf / "exports/people.csv").resolve()), "no such file")


def test_every_problem_of_a_config_file_is_reported_at_once(tmp_path):
    config = project(tmp_path, HEADER + person_row("1"), source_extra='encoding = "utf-9"')
    edit_config(config, "[chamilo]", '[chamilo]\nbatchsize = 10\ntimeout = "x"')
    edit_config(config, 'url = "http://', 'url = "ftp://')
    edit_config(config, "[state]", "[safty]\n\n[state]")
    result = plan(config)
    assert_refused(result, "chamilo.batchsize", "chamilo.timeout", "chamilo.url", "safty",
                   "source[0].encoding", "'utf-9'")
    errors = [line for line in result.err.splitlines() if line.startswith("error: ")]
    assert len(errors) >= 5
    assert all(file_in(tmp_path, "chamilo-sync.toml") in line for line in errors), errors


def test_a_config_path_that_does_not_exist_stops_the_run_naming_it(tmp_path):
    missing = tmp_path / "nowhere" / "chamilo-sync.toml"
    result = run_cli("--config", str(missing), "plan")
    assert_refused(result, str(missing), "not found")


def test_a_config_path_that_is_a_directory_stops_the_run_naming_it(tmp_path):
    assert_refused(cli("--config", str(tmp_path), "plan"), str(tmp_path))


def test_an_unknown_source_name_stops_the_run_and_lists_the_configured_ones(tmp_path):
    config = write_project(tmp_path, HEADER + person_row("1"),
                           sources=csv_source() + csv_source(name="staff"))
    result = run_cli("--config", str(config), "plan", "--source", "sis", "--source", "hr")
    assert_refused(result, "'hr'", "sis", "staff")
