import pandas as pd

from sync.desired import combine, duplicate_reasons
from sync.model import ACTIVE, KEY, LOCATOR, SOURCE, MappedSource, Rejection


def mapped(name: str, rows: dict[str, dict], *, ldap: bool = False, rejected=(), present=(),
           passwords=None, generate=False) -> MappedSource:  # fmt: skip
    """A mapped source whose desired rows are ``key -> fields`` (loginname defaults to the key
    lower-cased); locators are lines 2… or DNs ``uid=<key>``."""
    records = []
    for line, (key, fields) in enumerate(rows.items(), start=2):
        records.append({
            "loginname": key.lower(), **fields, ACTIVE: fields.get(ACTIVE, True), SOURCE: name,
            LOCATOR: f"uid={key}" if ldap else line,
        })  # fmt: skip
    desired = pd.DataFrame(records, index=pd.Index(list(rows), name=KEY, dtype=object))
    if not rows:
        desired = pd.DataFrame(columns=["loginname", ACTIVE, SOURCE, LOCATOR])
    return MappedSource(
        name=name,
        rows=len(rows) + len(rejected),
        desired=desired,
        rejected=tuple(rejected),
        present_keys=frozenset(rows) | frozenset(present),
        passwords=passwords or {},
        generate_passwords=generate,
    )


def test_a_single_source_passes_through():
    combined = combine([mapped("sis", {"P1": {"firstname": "Ann"}})])
    assert combined.desired.index.name == KEY
    assert combined.desired.loc["P1"].to_dict() == {
        "firstname": "Ann", "loginname": "p1", ACTIVE: True, SOURCE: "sis", LOCATOR: 2,
    }  # fmt: skip
    assert combined.present_keys == {"P1"} and combined.rejected == ()


def test_the_first_source_wins_a_key_and_later_rows_are_ignored_silently():
    combined = combine([
        mapped("sis", {"P1": {"firstname": "Ann"}}),
        mapped("staff", {"P1": {"firstname": "Anne"}, "P2": {"firstname": "Bo"}}, ldap=True),
    ])  # fmt: skip
    assert combined.desired.loc["P1", "firstname"] == "Ann"
    assert combined.desired.loc["P1", SOURCE] == "sis"
    assert combined.desired.loc["P2", SOURCE] == "staff"
    assert combined.rejected == ()
    assert combined.present_keys == {"P1", "P2"}


def test_a_key_rejected_in_an_earlier_source_is_not_taken_from_a_later_one():
    bad = Rejection("sis", "P1", "email", "email 'x' must contain exactly one '@'", line=2)
    later_bad = Rejection("staff", "P1", "firstname", "required value is empty", dn="uid=P1")
    combined = combine([
        mapped("sis", {}, rejected=[bad], present={"P1"}),
        mapped("staff", {"P1": {"firstname": "Ann"}}, rejected=[later_bad], ldap=True),
    ])  # fmt: skip
    assert combined.desired.empty
    assert combined.rejected == (bad,)
    assert combined.present_keys == {"P1"}


def test_precedence_compares_keys_case_insensitively_and_keeps_the_winning_spelling():
    combined = combine([
        mapped("sis", {"P1": {"firstname": "Ann"}}),
        mapped("staff", {"p1": {"firstname": "Anne"}}, passwords={"p1": "s3cret"}, generate=True),
    ])  # fmt: skip
    assert list(combined.desired.index) == ["P1"]
    assert combined.present_keys == {"P1"}
    assert combined.passwords == {} and combined.generate_passwords_for == frozenset()


def test_rejections_without_a_key_are_always_kept():
    nokey = Rejection("staff", "", "key", "required value is empty", dn="cn=x")
    combined = combine([mapped("sis", {"P1": {}}), mapped("staff", {}, rejected=[nokey])])
    assert combined.rejected == (nokey,)


def test_fields_a_source_does_not_map_are_none_not_empty():
    combined = combine([
        mapped("sis", {"P1": {"phone": "", "extra.dept": "HR"}}),
        mapped("staff", {"P2": {"language": "french"}}),
    ])  # fmt: skip
    desired = combined.desired
    assert list(desired.columns) == [
        "loginname", "language", "phone", "extra.dept", ACTIVE, SOURCE, LOCATOR,
    ]  # fmt: skip
    assert desired.loc["P1", "language"] is None and desired.loc["P1", "phone"] == ""
    assert desired.loc["P2", "phone"] is None and desired.loc["P2", "extra.dept"] is None
    assert desired[ACTIVE].dtype == bool


def test_inactive_rows_stay_inactive():
    combined = combine([mapped("sis", {"P1": {ACTIVE: False}})])
    assert combined.desired[ACTIVE].tolist() == [False]


def test_a_loginname_shared_across_sources_rejects_both_rows():
    combined = combine([
        mapped("sis", {"P1": {"loginname": "alee"}, "P2": {}}, passwords={"P1": "pw"}),
        mapped("staff", {"E9": {"loginname": "ALee"}}, ldap=True, generate=True),
    ])  # fmt: skip
    assert combined.rejected == (
        Rejection("sis", "P1", "loginname",
                  "duplicate loginname 'alee' (equal but for case: 'ALee' staff dn uid=E9)",
                  line=2),
        Rejection("staff", "E9", "loginname",
                  "duplicate loginname 'ALee' (equal but for case: 'alee' sis line 2)",
                  dn="uid=E9"),
    )  # fmt: skip
    assert list(combined.desired.index) == ["P2"]
    assert combined.present_keys == {"P1", "P2", "E9"}
    assert combined.passwords == {} and combined.generate_passwords_for == frozenset()


def test_passwords_and_generation_follow_the_winning_rows():
    combined = combine([
        mapped("sis", {"P1": {}, "P2": {}}, passwords={"P1": "pw1"}),
        mapped("staff", {"E1": {}, "P2": {"loginname": "x"}}, generate=True),
    ])  # fmt: skip
    assert combined.passwords == {"P1": "pw1"}
    assert combined.generate_passwords_for == {"E1"}
    assert "pw1" not in repr(combined)


def test_no_source_gives_an_empty_desired_frame():
    combined = combine([])
    assert combined.desired.empty and combined.desired.index.name == KEY
    assert list(combined.desired.columns) == [ACTIVE, SOURCE, LOCATOR]
    assert combined.present_keys == frozenset()


def test_duplicate_reasons_name_exact_and_case_duplicates():
    values = pd.Series(["A", "b", "A", "a"], index=[10, 11, 12, 13])
    labels = pd.Series(["line 2", "line 3", "line 4", "line 5"], index=values.index)
    reasons = duplicate_reasons(values, labels, "key")
    assert reasons.to_dict() == {
        10: "duplicate key 'A' (also line 4; equal but for case: 'a' line 5)",
        11: None,
        12: "duplicate key 'A' (also line 2; equal but for case: 'a' line 5)",
        13: "duplicate key 'a' (equal but for case: 'A' line 2, 'A' line 4)",
    }


def test_duplicate_reasons_name_a_few_rows_and_count_the_rest():
    values = pd.Series(["x"] * 8)
    labels = "line " + pd.Series(range(2, 10)).astype(str)
    reasons = duplicate_reasons(values, labels, "loginname")
    assert reasons[0] == "duplicate loginname 'x' (also line 3, line 4, line 5, line 6, line 7 " \
        "and 2 more)"


def test_empty_or_unmapped_loginnames_never_clash():
    combined = combine([
        mapped("sis", {"P1": {"loginname": ""}, "P2": {"loginname": ""}}),
        mapped("staff", {"E1": {"loginname": ""}}),
    ])  # fmt: skip
    assert combined.rejected == ()
    assert len(combined.desired) == 3
