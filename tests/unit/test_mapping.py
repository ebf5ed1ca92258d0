import pandas as pd
import pytest

from sync.errors import ConfigError
from sync.mapping import map_source
from sync.mapping_file import load_mapping
from sync.model import ACTIVE, KEY, LOCATOR, SOURCE, Rejection, SourceData
from tests.unit.test_mapping_spec import SPEC_EXAMPLE

REQUIRED = {
    "firstname": '{ column = "first" }',
    "lastname": '{ column = "last" }',
    "email": '{ column = "mail" }',
    "loginname": '{ column = "login" }',
}
PERSON = {"id": "P1", "first": "Ann", "last": "Lee", "mail": "ann@x.org", "login": "alee"}


@pytest.fixture
def spec_of(tmp_path):
    """A mapping spec from field specs (TOML inline tables) and extra sections."""

    def spec_of(more: str = "", key: str = '{ column = "id" }', **fields: str | None):
        specs = {**REQUIRED, **fields}
        lines = "\n".join(f"{name} = {spec}" for name, spec in specs.items() if spec)
        path = tmp_path / "people.toml"
        path.write_text(f"key = {key}\n[fields]\n{lines}\n{more}", encoding="utf-8")
        return load_mapping(path)

    return spec_of


def csv(*rows: dict, **defaults: str) -> SourceData:
    """A CSV raw frame: every row is PERSON updated by defaults then by the row; lines 2…"""
    records = [{**PERSON, **defaults, **row} for row in rows]
    frame = pd.DataFrame(records, dtype=object).fillna("")
    if "_row_error" not in frame:
        frame["_row_error"] = ""
    frame[LOCATOR] = range(2, len(records) + 2)
    return SourceData("sis", "csv", frame, "exports/people.csv")


def people(n: int) -> list[dict]:
    return [{"id": f"P{i}", "login": f"user{i}"} for i in range(n)]


def only_rejection(mapped) -> Rejection:
    [rejection] = mapped.rejected
    return rejection


def test_maps_a_valid_row_into_the_desired_frame(spec_of):
    mapped = map_source(spec_of(), csv({"id": "P1"}))
    assert mapped.rejected == ()
    assert mapped.rows == 1
    desired = mapped.desired
    assert desired.index.name == KEY
    assert list(desired.index) == ["P1"]
    assert desired.loc["P1"].to_dict() == {
        "firstname": "Ann", "lastname": "Lee", "email": "ann@x.org", "loginname": "alee",
        "status": "5", ACTIVE: True, SOURCE: "sis", LOCATOR: 2,
    }  # fmt: skip
    assert mapped.present_keys == {"P1"}


def test_transforms_apply_to_the_source_value_in_order(spec_of):
    spec = spec_of(email='{ column = "mail", transform = ["strip", "lower"] }',
                   lastname='{ column = "last", transform = ["strip", "title"] }')  # fmt: skip
    mapped = map_source(spec, csv({"mail": " Ann@X.ORG ", "last": " o'NEIL "}))
    assert mapped.desired.loc["P1", "email"] == "ann@x.org"
    assert mapped.desired.loc["P1", "lastname"] == "O'Neil"


def test_key_transforms_apply_before_the_key_is_used(spec_of):
    mapped = map_source(spec_of(key='{ column = "id", transform = ["strip", "upper"] }'),
                        csv({"id": " p1 "}))  # fmt: skip
    assert list(mapped.desired.index) == ["P1"]


def test_a_constant_value_fills_every_row(spec_of):
    mapped = map_source(spec_of(language='{ value = "english" }'), csv(*people(2)))
    assert mapped.desired["language"].tolist() == ["english", "english"]


def test_map_translates_values_and_default_fills_empty_and_unknown_ones(spec_of):
    spec = spec_of(status='{ column = "role", map = { student = 5, teacher = 1 }, default = 5 }')
    rows = [{"role": "teacher"}, {"role": "student"}, {"role": ""}, {"role": "janitor"}]
    mapped = map_source(spec, csv(*[{**p, **r} for p, r in zip(people(4), rows)]))
    assert mapped.desired["status"].tolist() == ["1", "5", "5", "5"]


def test_a_value_missing_from_a_map_without_default_is_rejected(spec_of):
    spec = spec_of(status='{ column = "role", map = { student = 5, teacher = 1 } }')
    mapped = map_source(spec, csv({"id": "P1", "role": "janitor"}, {"id": "P2", "role": "",
                                                                  "login": "b"}))  # fmt: skip
    assert only_rejection(mapped) == Rejection(
        "sis", "P1", "status", "value 'janitor' is not in map (known: student, teacher)", line=2
    )
    assert mapped.desired.loc["P2", "status"] == "5"


def test_map_keys_match_exactly_after_transforms(spec_of):
    spec = spec_of(status='{ column = "role", transform = ["lower"], map = { teacher = 1 } }')
    assert map_source(spec, csv({"role": "Teacher"})).desired.loc["P1", "status"] == "1"
    spec = spec_of(status='{ column = "role", map = { teacher = 1 } }')
    assert only_rejection(map_source(spec, csv({"role": "Teacher"}))).field == "status"


def test_default_without_map_fills_empty_values_only(spec_of):
    spec = spec_of(language='{ column = "lang", default = "english" }')
    mapped = map_source(spec, csv({**people(2)[0], "lang": ""}, {**people(2)[1], "lang": "french"}))
    assert mapped.desired["language"].tolist() == ["english", "french"]


def test_status_defaults_to_student_when_not_mapped(spec_of):
    assert map_source(spec_of(), csv({})).desired.loc["P1", "status"] == "5"


def test_status_is_a_normalised_integer_string(spec_of):
    spec = spec_of(status='{ column = "role", required = false }')
    rows = [{"role": "1"}, {"role": " 05 "}, {"role": ""}, {"role": "0"}]
    mapped = map_source(spec, csv(*[{**p, **r} for p, r in zip(people(4), rows)]))
    assert mapped.desired["status"].tolist() == ["1", "5", "5", "0"]


def test_a_non_integer_status_is_rejected(spec_of):
    mapped = map_source(spec_of(status='{ column = "role" }'), csv({"role": "teacher"}))
    assert only_rejection(mapped).reason == "status 'teacher' is not an integer"


def test_a_date_with_a_format_is_valid_through_that_day(spec_of):
    spec = spec_of(expiration_date='{ column = "end", format = "%d/%m/%Y", required = false }')
    mapped = map_source(spec, csv({**people(2)[0], "end": "31/12/2024"},
                                  {**people(2)[1], "end": ""}))  # fmt: skip
    assert mapped.desired["expiration_date"].tolist() == ["2024-12-31 23:59:59", ""]


def test_a_date_with_a_time_keeps_it(spec_of):
    spec = spec_of(expiration_date='{ column = "end", format = "%d/%m/%Y %H:%M" }')
    mapped = map_source(spec, csv({"end": "31/12/2024 08:30"}))
    assert mapped.desired.loc["P1", "expiration_date"] == "2024-12-31 08:30:00"


def test_an_expiration_date_without_format_is_read_as_iso(spec_of):
    spec = spec_of(expiration_date='{ column = "end" }')
    mapped = map_source(spec, csv({**people(2)[0], "end": "2024-12-31"},
                                  {**people(2)[1], "end": "2024-12-31 08:30"}))  # fmt: skip
    assert mapped.desired["expiration_date"].tolist() == [
        "2024-12-31 23:59:59",
        "2024-12-31 08:30:00",
    ]


def test_an_unparsable_date_is_rejected_naming_value_and_format(spec_of):
    spec = spec_of(expiration_date='{ column = "end", format = "%d/%m/%Y" }')
    assert only_rejection(map_source(spec, csv({"end": "2024-12-31"}))) == Rejection(
        "sis", "P1", "expiration_date",
        "date '2024-12-31' is not a valid date (expected format '%d/%m/%Y')", line=2,
    )  # fmt: skip
    spec = spec_of(expiration_date='{ column = "end" }')
    reason = only_rejection(map_source(spec, csv({"end": "31/12/2024"}))).reason
    assert reason == "date '31/12/2024' is not a valid date " \
        "(expected YYYY-MM-DD or YYYY-MM-DD HH:MM[:SS])"


def test_an_extra_with_a_format_is_a_date_and_without_is_text(spec_of):
    spec = spec_of(more='[extra]\nborn = { column = "b", format = "%d.%m.%Y" }\n'
                        'dept = { column = "d" }')  # fmt: skip
    mapped = map_source(spec, csv({"b": "01.02.2003", "d": "01.02.2003"}))
    assert mapped.desired.loc["P1", "extra.born"] == "2003-02-01 23:59:59"
    assert mapped.desired.loc["P1", "extra.dept"] == "01.02.2003"


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("ann.x.org", "must contain exactly one '@'"),
        ("@x.org", "has an empty part before '@'"),
        ("ann@localhost", "needs a domain with a dot"),
        ("ann lee@x.org", "contains whitespace"),
    ],
)
def test_each_email_rule_rejects_the_row(spec_of, address, why):
    rejection = only_rejection(map_source(spec_of(), csv({"mail": address})))
    assert (rejection.field, rejection.key, rejection.line) == ("email", "P1", 2)
    assert rejection.reason.startswith(f"email {address!r} {why}")


def test_a_required_empty_value_is_rejected(spec_of):
    assert only_rejection(map_source(spec_of(), csv({"first": ""}))) == Rejection(
        "sis", "P1", "firstname", "required value is empty (column 'first')", line=2
    )


def test_a_value_empty_after_transforms_counts_as_empty(spec_of):
    spec = spec_of(firstname='{ column = "first", transform = ["strip"] }')
    assert only_rejection(map_source(spec, csv({"first": "   "}))).field == "firstname"


def test_an_optional_empty_value_is_an_empty_string(spec_of):
    spec = spec_of(phone='{ column = "tel", required = false }',
                   email='{ column = "mail", required = false }')  # fmt: skip
    mapped = map_source(spec, csv({"tel": "", "mail": ""}))
    assert mapped.rejected == ()
    assert mapped.desired.loc["P1", "phone"] == "" and mapped.desired.loc["P1", "email"] == ""


def test_an_optional_field_can_be_made_required(spec_of):
    spec = spec_of(phone='{ column = "tel", required = true }')
    assert only_rejection(map_source(spec, csv({"tel": ""}))).field == "phone"


def test_a_template_formats_the_row_columns(spec_of):
    spec = spec_of(loginname='{ template = "{first[0]}{last}", transform = ["ascii", "lower"] }')
    mapped = map_source(spec, csv({"first": "Élodie", "last": "Ørsted"}))
    assert mapped.desired.loc["P1", "loginname"] == "eorsted"


def test_a_template_on_an_empty_column_rejects_the_row_naming_field_and_template(spec_of):
    spec = spec_of(loginname='{ template = "{first[0]}{last}" }',
                   firstname='{ column = "first", required = false }')  # fmt: skip
    mapped = map_source(spec, csv({"id": "P1", "first": ""}, {"id": "P2", "first": "Bo"}))
    assert only_rejection(mapped) == Rejection(
        "sis", "P1", "loginname",
        "template '{first[0]}{last}' cannot be filled from this row", line=2,
    )  # fmt: skip
    assert mapped.desired.loc["P2", "loginname"] == "BLee"


def test_duplicate_keys_reject_every_row_involved_naming_the_other_lines(spec_of):
    rows = [{"id": "P1", "login": "a"}, {"id": "P2", "login": "b"},
            {"id": "P1", "login": "c"}, {"id": "P1", "login": "d"}]  # fmt: skip
    mapped = map_source(spec_of(), csv(*rows))
    assert mapped.rejected == (
        Rejection("sis", "P1", "key", "duplicate key 'P1' (also line 4, line 5)", line=2),
        Rejection("sis", "P1", "key", "duplicate key 'P1' (also line 2, line 5)", line=4),
        Rejection("sis", "P1", "key", "duplicate key 'P1' (also line 2, line 4)", line=5),
    )
    assert list(mapped.desired.index) == ["P2"]
    assert mapped.present_keys == {"P1", "P2"}


def test_keys_equal_but_for_case_reject_every_row_involved(spec_of):
    mapped = map_source(spec_of(), csv({"id": "P1", "login": "a"}, {"id": "p1", "login": "b"}))
    assert mapped.rejected == (
        Rejection("sis", "P1", "key", "duplicate key 'P1' (equal but for case: 'p1' line 3)",
                  line=2),
        Rejection("sis", "p1", "key", "duplicate key 'p1' (equal but for case: 'P1' line 2)",
                  line=3),
    )  # fmt: skip
    assert mapped.desired.empty
    assert mapped.present_keys == {"P1", "p1"}


def test_a_row_rejected_for_another_reason_still_counts_for_duplicate_keys(spec_of):
    mapped = map_source(spec_of(), csv({"id": "P1", "mail": "bad"}, {"id": "P1", "login": "b"}))
    assert [(r.field, r.line) for r in mapped.rejected] == [("key", 2), ("key", 3)]


def test_duplicate_loginnames_are_compared_case_insensitively(spec_of):
    rows = [{"id": "P1", "login": "alee"}, {"id": "P2", "login": "ALee"}, {"id": "P3"}]
    mapped = map_source(spec_of(), csv(*rows, login="other"))
    assert mapped.rejected == (
        Rejection("sis", "P1", "loginname",
                  "duplicate loginname 'alee' (equal but for case: 'ALee' line 3)", line=2),
        Rejection("sis", "P2", "loginname",
                  "duplicate loginname 'ALee' (equal but for case: 'alee' line 2)", line=3),
    )  # fmt: skip
    assert list(mapped.desired.index) == ["P3"]


def test_duplicate_loginnames_count_rows_rejected_for_other_fields(spec_of):
    mapped = map_source(spec_of(), csv({"id": "P1", "mail": "bad"}, {"id": "P2"}))
    assert [(r.key, r.field) for r in mapped.rejected] == [("P1", "email"), ("P2", "loginname")]
    assert mapped.rejected[1].reason == "duplicate loginname 'alee' (also line 2)"


def test_rows_without_a_key_do_not_claim_a_loginname(spec_of):
    mapped = map_source(spec_of(), csv({"id": ""}, {"id": "P2"}))
    assert only_rejection(mapped).line == 2
    assert list(mapped.desired.index) == ["P2"]


def test_a_row_with_an_empty_key_is_rejected_with_an_empty_key(spec_of):
    mapped = map_source(spec_of(), csv({"id": "", "login": "a"}, {"id": "", "login": "b"}))
    assert mapped.rejected == (
        Rejection("sis", "", "key", "required value is empty (column 'id')", line=2),
        Rejection("sis", "", "key", "required value is empty (column 'id')", line=3),
    )
    assert mapped.present_keys == frozenset()


def test_a_row_error_from_the_csv_reader_rejects_the_row_first(spec_of):
    mapped = map_source(spec_of(), csv({"_row_error": "row has 7 fields, header has 5",
                                        "mail": "bad"}))  # fmt: skip
    assert only_rejection(mapped) == Rejection(
        "sis", "P1", "row", "row has 7 fields, header has 5", line=2
    )
    assert mapped.present_keys == {"P1"}


def test_a_row_reports_only_its_first_problem_in_field_order(spec_of):
    mapped = map_source(spec_of(), csv({"first": "", "mail": "bad", "login": ""}))
    assert only_rejection(mapped).field == "firstname"


def test_present_keys_include_rejected_rows(spec_of):
    mapped = map_source(spec_of(), csv({"id": "P1", "mail": "bad", "login": "a"}, {"id": "P2"}))
    assert mapped.present_keys == {"P1", "P2"}
    assert list(mapped.desired.index) == ["P2"]


def test_inactive_rows_stay_in_desired_marked_inactive(spec_of):
    spec = spec_of(more='[active]\ncolumn = "state"\nvalues = ["active", "Enrolled"]')
    states = ["active", " ENROLLED ", "gone", ""]
    rows = [{**p, "state": s} for p, s in zip(people(4), states)]
    assert map_source(spec, csv(*rows)).desired[ACTIVE].tolist() == [True, True, False, False]


@pytest.mark.parametrize(
    ("flags", "active"),
    [("2", False), ("512", True), ("514", False), ("66048", True), (" 546 ", False)],
)
def test_disabled_flag_reads_the_account_control_bit(spec_of, flags, active):
    spec = spec_of(more='[active]\ncolumn = "uac"\ndisabled_flag = 2')
    assert map_source(spec, csv({"uac": flags})).desired[ACTIVE].tolist() == [active]


def test_an_unparsable_disabled_flag_value_rejects_the_row(spec_of):
    spec = spec_of(more='[active]\ncolumn = "uac"\ndisabled_flag = 2')
    assert only_rejection(map_source(spec, csv({"uac": "abc"}))) == Rejection(
        "sis", "P1", "active", "value 'abc' is not an integer (disabled_flag = 2)", line=2
    )


def test_passwords_from_a_column_are_kept_apart_and_never_in_desired(spec_of):
    spec = spec_of(password='{ column = "pw" }')
    rows = [{**p, "pw": pw} for p, pw in zip(people(3), ["s3cret", "", "x"])]
    rows[2]["mail"] = "bad"
    mapped = map_source(spec, csv(*rows))
    assert mapped.passwords == {"P0": "s3cret"}
    assert not mapped.generate_passwords
    assert "password" not in mapped.desired and "pw" not in mapped.desired
    assert "s3cret" not in mapped.desired.to_string()
    assert "s3cret" not in repr(mapped)


def test_generate_passwords_is_passed_on(spec_of):
    mapped = map_source(spec_of(password="{ generate = true }"), csv({}))
    assert mapped.generate_passwords and mapped.passwords == {}


def test_extras_become_prefixed_columns_and_are_optional(spec_of):
    spec = spec_of(more='[extra]\ndepartment = { column = "dept" }\n'
                        'office = { column = "room", required = true }')  # fmt: skip
    rows = [{"id": "P1", "dept": "", "room": "B2"},
            {"id": "P2", "dept": "HR", "room": "", "login": "b"}]  # fmt: skip
    mapped = map_source(spec, csv(*rows))
    assert mapped.desired.loc["P1", "extra.department"] == ""
    assert only_rejection(mapped).field == "extra.office"


def test_a_csv_without_a_mapped_column_is_a_config_error(spec_of):
    data = csv({})
    data.frame.drop(columns=["mail"], inplace=True)
    with pytest.raises(ConfigError) as caught:
        map_source(spec_of(), data)
    assert "fields.email: column 'mail' is not in exports/people.csv" in str(caught.value)


def ldap(*entries: dict) -> SourceData:
    frame = pd.DataFrame([{k.lower(): v for k, v in e.items()} for e in entries], dtype=object)
    return SourceData("staff", "ldap", frame, "ldaps://dc1.example.edu")


LDAP_FIELDS = {
    "key": '{ column = "employeeNumber" }',
    "firstname": '{ column = "givenName" }',
    "lastname": '{ column = "sn" }',
    "email": '{ column = "mail" }',
    "loginname": '{ column = "uid" }',
}


def entry(dn: str = "uid=ann,ou=people", **attrs: list[str]) -> dict:
    base = {"employeeNumber": ["E1"], "givenName": ["Ann"], "sn": ["Lee"],
            "mail": ["ann@x.org"], "uid": ["ann"]}  # fmt: skip
    return {**base, **attrs, LOCATOR: dn}


def test_ldap_attributes_match_case_insensitively_and_take_the_first_value(spec_of):
    spec = spec_of(**LDAP_FIELDS)
    mapped = map_source(spec, ldap(entry(mail=["ann@x.org", "a.lee@x.org"])))
    assert mapped.rejected == ()
    assert mapped.desired.loc["E1"].to_dict() == {
        "firstname": "Ann", "lastname": "Lee", "email": "ann@x.org", "loginname": "ann",
        "status": "5", ACTIVE: True, SOURCE: "staff", LOCATOR: "uid=ann,ou=people",
    }  # fmt: skip


def test_ldap_values_can_be_joined_or_picked_by_index(spec_of):
    spec = spec_of(**LDAP_FIELDS, phone='{ column = "telephoneNumber", join = "; " }',
                   more='[extra]\nsecond = { column = "ou", index = 1 }\n'
                        'third = { column = "ou", index = 2 }')  # fmt: skip
    mapped = map_source(spec, ldap(entry(telephoneNumber=["1", "2"], ou=["a", "b"])))
    row = mapped.desired.loc["E1"]
    assert (row["phone"], row["extra.second"], row["extra.third"]) == ("1; 2", "b", "")


def test_an_absent_ldap_attribute_reads_as_empty(spec_of):
    spec = spec_of(**LDAP_FIELDS, phone='{ column = "telephoneNumber", required = false }')
    mapped = map_source(spec, ldap(entry(mail=[], givenName=["Ann"])))
    assert mapped.desired.empty
    assert only_rejection(mapped) == Rejection(
        "staff", "E1", "email", "required value is empty (column 'mail')", dn="uid=ann,ou=people"
    )


def test_an_ldap_entry_without_its_key_is_rejected_with_an_empty_key_and_its_dn(spec_of):
    mapped = map_source(spec_of(**LDAP_FIELDS), ldap(entry(employeeNumber=[])))
    assert only_rejection(mapped) == Rejection(
        "staff", "", "key", "required value is empty (column 'employeeNumber')",
        dn="uid=ann,ou=people",
    )  # fmt: skip


def test_ldap_duplicates_name_the_other_dn(spec_of):
    mapped = map_source(spec_of(**LDAP_FIELDS), ldap(entry("uid=a"), entry("uid=b", uid=["b"])))
    assert [(r.dn, r.reason) for r in mapped.rejected] == [
        ("uid=a", "duplicate key 'E1' (also dn uid=b)"),
        ("uid=b", "duplicate key 'E1' (also dn uid=a)"),
    ]


def test_an_ldap_template_reads_attributes_case_insensitively(spec_of):
    spec = spec_of(**{**LDAP_FIELDS, "loginname": '{ template = "{givenName[0]}.{SN}" }'})
    assert map_source(spec, ldap(entry())).desired.loc["E1", "loginname"] == "A.Lee"


def test_ldap_disabled_flag_reads_user_account_control(spec_of):
    spec = spec_of(**LDAP_FIELDS, more='[active]\ncolumn = "userAccountControl"\n'
                                       'disabled_flag = 2')  # fmt: skip
    mapped = map_source(spec, ldap(entry(userAccountControl=["514"])))
    assert mapped.desired[ACTIVE].tolist() == [False]


def test_an_empty_source_maps_to_an_empty_desired_frame(spec_of):
    data = csv({})
    data = SourceData("sis", "csv", data.frame.iloc[0:0], data.origin)
    mapped = map_source(spec_of(), data)
    assert mapped.rows == 0 and mapped.desired.empty and mapped.rejected == ()


def test_the_spec_example_maps_fifty_thousand_rows(tmp_path):
    """Nothing quadratic: a large source maps (no timing assertion)."""
    mapping = tmp_path / "people.toml"
    mapping.write_text(SPEC_EXAMPLE, encoding="utf-8")
    n = 50_000
    ids = pd.Series(range(n)).astype(str)
    frame = pd.DataFrame({
        "person_id": "P" + ids, "first_name": "Ann", "last_name": "Lee" + ids, "email":
        "a" + ids + "@x.org", "role": "student", "phone": "", "end_date": "31/12/2030",
        "state": "active", "dept": "HR", LOCATOR: range(2, n + 2), "_row_error": "",
    })  # fmt: skip
    frame.loc[7, "email"] = "bad"
    mapped = map_source(load_mapping(mapping), SourceData("sis", "csv", frame, "people.csv"))
    assert len(mapped.desired) == n - 1
    assert [r.line for r in mapped.rejected] == [9]
    assert mapped.desired["expiration_date"].iloc[0] == "2030-12-31 23:59:59"


def test_keys_and_logins_chamilo_cannot_look_up_are_rejected_by_name(spec_of):
    mapped = map_source(spec_of(), csv({"id": "O'B1", "login": "obrien"},
                                       {"id": "P2", "login": "o'brien"},
                                       {"id": "P3", "login": "fine"}))
    reasons = {(r.key, r.field): r.reason for r in mapped.rejected}
    assert "quote" in reasons[("O'B1", "key")] and "O'B1" in reasons[("O'B1", "key")]
    assert "quote" in reasons[("P2", "loginname")]
    assert list(mapped.desired.index) == ["P3"]
