import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync.transforms import (
    TRANSFORMS,
    apply_transforms,
    email_problems,
    format_dates,
    format_problem,
    has_time,
    to_ascii,
)


def series(*values: str) -> pd.Series:
    return pd.Series(list(values), dtype=object)


@pytest.mark.parametrize(
    ("name", "given_value", "expected"),
    [
        ("strip", "  Ann \t", "Ann"),
        ("strip", "\xa0Ann\xa0", "Ann"),
        ("lower", "ANN Lée", "ann lée"),
        ("upper", "ann lée", "ANN LÉE"),
        ("title", "jean-pierre o'neil", "Jean-Pierre O'Neil"),
        ("title", "ÉLODIE", "Élodie"),
        ("ascii", "Zoë", "Zoe"),
    ],
)
def test_each_transform_changes_whole_columns(name, given_value, expected):
    assert TRANSFORMS[name](series(given_value, "")).tolist() == [expected, ""]


@pytest.mark.parametrize(
    ("given_value", "expected"),
    [
        ("é", "e"), ("ñ", "n"), ("Ç", "C"), ("ø", "o"), ("Ø", "O"), ("ß", "ss"), ("æ", "ae"),
        ("Æ", "AE"), ("œ", "oe"), ("Œ", "OE"), ("ł", "l"), ("Ł", "L"), ("đ", "d"), ("Đ", "D"),
        ("Łukasz Bąk-Ørsted", "Lukasz Bak-Orsted"), ("Straße", "Strasse"),
        ("日本x€", "x"), ("a.b_c-d'e 1", "a.b_c-d'e 1"),
    ],
)  # fmt: skip
def test_ascii_transliterates_the_spec_table_and_drops_other_non_ascii(given_value, expected):
    assert to_ascii(series(given_value)).tolist() == [expected]


def test_ascii_of_an_empty_column_is_an_empty_column():
    assert to_ascii(series()).tolist() == []


@given(st.lists(st.text(), max_size=5))
def test_ascii_output_is_always_ascii(values):
    assert all(v.isascii() for v in to_ascii(series(*values)))


@given(st.lists(st.text(alphabet=st.characters(max_codepoint=127)), max_size=5))
def test_ascii_leaves_ascii_input_unchanged(values):
    assert to_ascii(series(*values)).tolist() == values


def test_transforms_apply_in_the_given_order():
    values = series(" ÉLODIE ")
    assert apply_transforms(values, ["strip", "ascii", "lower"]).tolist() == ["elodie"]
    assert apply_transforms(values, ["lower", "title"]).tolist() == [" Élodie "]
    assert apply_transforms(values, []).tolist() == [" ÉLODIE "]


def test_date_with_a_format_without_time_is_valid_through_that_day():
    out = format_dates(series("31/12/2024", "1/2/2025"), "%d/%m/%Y")
    assert out.tolist() == ["2024-12-31 23:59:59", "2025-02-01 23:59:59"]


def test_date_with_a_format_with_time_keeps_the_time():
    out = format_dates(series("31/12/2024 08:30"), "%d/%m/%Y %H:%M")
    assert out.tolist() == ["2024-12-31 08:30:00"]


def test_date_without_format_accepts_iso_date_and_iso_date_time():
    out = format_dates(
        series("2024-12-31", "2024-12-31 08:30", "2024-12-31 08:30:15", "2024-12-31T08:30"), None
    )
    assert out.tolist() == [
        "2024-12-31 23:59:59",
        "2024-12-31 08:30:00",
        "2024-12-31 08:30:15",
        "2024-12-31 08:30:00",
    ]


def test_unparsable_dates_give_none():
    assert format_dates(series("31/12/2024", "2024-02-30", "soon"), None).tolist() == [None] * 3
    assert format_dates(series("2024-12-31", "30/02/2024"), "%d/%m/%Y").tolist() == [None, None]


def test_dates_beyond_pandas_range_still_parse():
    assert format_dates(series("31/12/9999"), "%d/%m/%Y").tolist() == ["9999-12-31 23:59:59"]
    assert format_dates(series("9999-12-31"), None).tolist() == ["9999-12-31 23:59:59"]


def test_surrounding_whitespace_of_a_date_is_ignored():
    assert format_dates(series(" 2024-12-31 "), None).tolist() == ["2024-12-31 23:59:59"]


def test_time_part_of_a_format_is_detected():
    assert has_time("%d/%m/%Y %H:%M")
    assert has_time("%Y%m%d %I%p")
    assert not has_time("%d/%m/%Y")
    assert not has_time("%Y-%m-%d %%H")


@pytest.mark.parametrize("fmt", ["%d/%m/%Y", "%Y-%m-%dT%H:%M:%S", "%d %B %Y"])
def test_valid_date_formats_have_no_problem(fmt):
    assert format_problem(fmt) is None


@pytest.mark.parametrize("fmt", ["%d/%m/%Q", "dd/mm/yyyy", "%d/%m/%Y %"])
def test_invalid_date_formats_are_explained(fmt):
    assert repr(fmt) in format_problem(fmt)


def test_a_plain_address_is_a_valid_email():
    assert email_problems(series("ann.lee@mail.example.org", "a+b@x.io")).tolist() == [None, None]


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("ann.example.org", "exactly one '@'"),
        ("ann@lee@example.org", "exactly one '@'"),
        ("@example.org", "empty part before '@'"),
        ("ann@localhost", "domain with a dot"),
        ("ann@example.", "domain with a dot"),
        ("ann@.org", "domain with a dot"),
        ("ann lee@example.org", "whitespace"),
        ("ann@example.org\t", "whitespace"),
    ],
)
def test_each_email_rule_rejects_with_its_reason(address, why):
    [reason] = email_problems(series(address)).tolist()
    assert why in reason
    assert repr(address) in reason
