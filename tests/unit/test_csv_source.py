"""CsvSource against a corpus of nasty CSV files, each written by its test into tmp_path."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync.errors import SourceError
from sync.model import LOCATOR
from sync.sources.csv_source import ROW_ERROR, CsvSource, csv_columns
from sync.sources.csv_sniff import detect_delimiter


def write(tmp_path: Path, content: str | bytes, name: str = "people.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def read(path: Path, **options):
    return CsvSource("sis", path, **options).read().frame


def values(frame) -> list[dict]:
    """The rows without the meta columns."""
    return frame.drop(columns=[LOCATOR, ROW_ERROR]).to_dict("records")


def read_error(path: Path, **options) -> SourceError:
    with pytest.raises(SourceError) as caught:
        CsvSource("sis", path, **options).read()
    return caught.value


# --- the SourceData itself ---------------------------------------------------------------


def test_read_returns_csv_source_data_named_after_the_source_and_file(tmp_path):
    path = write(tmp_path, "id,name\n1,Ann\n")
    data = CsvSource("sis", path).read()
    assert (data.name, data.kind, data.origin) == ("sis", "csv", str(path))
    assert list(data.frame.columns) == ["id", "name", LOCATOR, ROW_ERROR]
    assert data.frame[ROW_ERROR].tolist() == [""]
    assert data.frame[LOCATOR].tolist() == [2]


# --- encodings ---------------------------------------------------------------------------


def test_utf8_byte_order_mark_is_stripped_from_the_first_column_name(tmp_path):
    path = write(tmp_path, b"\xef\xbb\xbfid,name\n1,Jos\xc3\xa9\n")
    assert values(read(path)) == [{"id": "1", "name": "José"}]


def test_utf8_without_bom_keeps_its_accents(tmp_path):
    path = write(tmp_path, "id,name\n1,Zoë Łukasz Ñúñez 中文\n")
    assert values(read(path))[0]["name"] == "Zoë Łukasz Ñúñez 中文"


def test_windows_1252_bytes_are_decoded_as_windows_1252(tmp_path):
    path = write(tmp_path, "id,name\n1,José Ñúñez Strauß – 5 €\n".encode("cp1252"))
    assert values(read(path))[0]["name"] == "José Ñúñez Strauß – 5 €"


def test_explicit_encoding_overrides_detection(tmp_path):
    # Valid UTF-8 ("Ã©"), but the file says it is Latin-1.
    path = write(tmp_path, "id,name\n1,Ã©\n".encode("utf-8"))
    assert values(read(path, encoding="latin-1"))[0]["name"] == "Ã\x83Â©"
    assert values(read(path))[0]["name"] == "Ã©"


def test_explicit_utf16_encoding_reads_an_excel_unicode_text_export(tmp_path):
    path = write(tmp_path, "id\tname\r\n1\tJosé\r\n".encode("utf-16"))
    assert values(read(path, encoding="utf-16")) == [{"id": "1", "name": "José"}]


def test_utf16_file_without_explicit_encoding_is_refused_with_a_hint(tmp_path):
    error = read_error(write(tmp_path, "id,name\n1,a\n".encode("utf-16")))
    assert "UTF-16" in error.message and 'encoding = "utf-16"' in error.hint


def test_explicit_encoding_that_does_not_fit_names_the_line_and_byte(tmp_path):
    path = write(tmp_path, b"id,name\n1,ok\n2,Jos\xe9\n")
    error = read_error(path, encoding="utf-8")
    assert str(path) in error.message
    assert "line 3 column 6" in error.message and "byte 0xE9 (byte 18)" in error.message


def test_unknown_explicit_encoding_is_a_source_error(tmp_path):
    error = read_error(write(tmp_path, "id\n1\n"), encoding="klingon")
    assert "unknown encoding 'klingon'" in error.message


def test_binary_garbage_is_not_a_text_csv_file(tmp_path):
    path = write(tmp_path, b"id,name\n1,\x89PNG\x00\x01\x02\xff\xfe\n")
    error = read_error(path)
    assert error.message.startswith(f"{path} is not a text CSV file (binary content at byte 14")
    assert "line 2 column 7" in error.message


def test_bytes_that_are_neither_utf8_nor_windows_1252_are_binary(tmp_path):
    error = read_error(write(tmp_path, b"id,name\n1,caf\xe9\n2,\x81\x8d\n"))
    assert "binary content at byte 17" in error.message


def test_excel_workbook_gets_a_save_as_csv_hint(tmp_path):
    error = read_error(write(tmp_path, b"PK\x03\x04\x14\x00\x06\x00\x08\x00", "people.xlsx"))
    assert "not a text CSV file" in error.message and "CSV UTF-8" in error.hint


# --- line endings and delimiters ---------------------------------------------------------


@pytest.mark.parametrize("newline", ["\r\n", "\n", "\r"], ids=["crlf", "lf", "cr"])
def test_every_line_ending_reads_the_same_values_and_lines(tmp_path, newline):
    path = write(tmp_path, newline.join(["id,name", "1,Ann", "", "2,Bob", ""]))
    frame = read(path)
    assert values(frame) == [{"id": "1", "name": "Ann"}, {"id": "2", "name": "Bob"}]
    assert frame[LOCATOR].tolist() == [2, 4]


@pytest.mark.parametrize(
    "delimiter", [",", ";", "\t", "|"], ids=["comma", "semicolon", "tab", "pipe"]
)
def test_delimiter_is_detected_from_the_header(tmp_path, delimiter):
    others = "".join(d for d in ",;|" if d != delimiter)  # values holding the other candidates
    rows = [["id", "name", "note"], ["1", "Ann", f"a{others}b"], ["2", "Bob", "x"]]
    path = write(tmp_path, "\n".join(delimiter.join(row) for row in rows) + "\n")
    assert values(read(path)) == [
        {"id": "1", "name": "Ann", "note": f"a{others}b"},
        {"id": "2", "name": "Bob", "note": "x"},
    ]


def test_detection_prefers_the_delimiter_consistent_with_the_following_lines():
    # The header alone has more commas than tabs; the rows say tab.
    text = "name (last, first, middle)\temail\nDoe\ta@x.org\nRoe\tb@x.org\n"
    assert detect_delimiter(text) == "\t"


def test_detection_ignores_delimiters_inside_quoted_header_names():
    assert detect_delimiter('"a;b;c";d\n1;2\n') == ";"
    assert detect_delimiter('"a;b;c",d\n1,2\n') == ","


def test_single_column_file_is_read_as_one_column(tmp_path):
    frame = read(write(tmp_path, "person_id\n007\n008\n"))
    assert values(frame) == [{"person_id": "007"}, {"person_id": "008"}]


def test_explicit_delimiter_overrides_detection(tmp_path):
    path = write(tmp_path, "id;name,first;x\n1;Doe,Ann;y\n")
    assert values(read(path, delimiter=";")) == [{"id": "1", "name,first": "Doe,Ann", "x": "y"}]
    assert list(read(path, delimiter=",").columns[:2]) == ["id;name", "first;x"]


def test_explicit_delimiter_may_be_named_tab(tmp_path):
    path = write(tmp_path, "id\tname\n1\tAnn\n")
    assert values(read(path, delimiter="tab")) == [{"id": "1", "name": "Ann"}]


@pytest.mark.parametrize("bad", ['"', "\n", ";;", ""])
def test_impossible_explicit_delimiter_is_a_source_error(tmp_path, bad):
    error = read_error(write(tmp_path, "id\n1\n"), delimiter=bad)
    assert "delimiter must be one character" in error.message


# --- values kept verbatim ----------------------------------------------------------------


def test_leading_zeros_and_na_words_stay_text(tmp_path):
    path = write(tmp_path, "id,a,b,c,d,e\n007,NA,null,NaN,None,\n")
    assert values(read(path)) == [
        {"id": "007", "a": "NA", "b": "null", "c": "NaN", "d": "None", "e": ""}
    ]


def test_every_cell_is_a_python_str(tmp_path):
    frame = read(write(tmp_path, "id,n,f,d\n1,42,3.5,2024-01-01\n"))
    assert all(type(v) is str for v in values(frame)[0].values())


def test_formula_like_values_are_read_verbatim(tmp_path):
    rows = [["id", "name"], ["1", "=cmd|' /C calc'!A0"], ["2", "+1"], ["3", "-2"], ["4", "@x"]]
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    frame = read(write(tmp_path, buffer.getvalue()), delimiter=",")
    assert frame["name"].tolist() == ["=cmd|' /C calc'!A0", "+1", "-2", "@x"]


def test_quoted_fields_hold_delimiters_doubled_quotes_and_spaces(tmp_path):
    path = write(tmp_path, 'id,name,note\n1,"Doe, Ann","say ""hi"""\n2, padded ,""\n')
    assert values(read(path)) == [
        {"id": "1", "name": "Doe, Ann", "note": 'say "hi"'},
        {"id": "2", "name": " padded ", "note": ""},
    ]


def test_a_one_megabyte_field_is_read_whole(tmp_path):
    big = "x" * 1_048_576 + ",\n\"" + "y" * 1000
    path = write(tmp_path, 'id,blob\n1,"' + big.replace('"', '""') + '"\n2,small\n')
    frame = read(path)
    assert frame["blob"].tolist() == [big, "small"]
    assert frame[LOCATOR].tolist() == [2, 4]


# --- line numbers ------------------------------------------------------------------------


def test_quoted_newlines_keep_later_line_numbers_right(tmp_path):
    path = write(tmp_path, 'id,address\nA,"1 Main St\nSpringfield"\nB,2 Elm St\n')
    frame = read(path)
    assert frame["address"].tolist() == ["1 Main St\nSpringfield", "2 Elm St"]
    assert frame[LOCATOR].tolist() == [2, 4]


def test_blank_lines_are_skipped_but_counted(tmp_path):
    path = write(tmp_path, "\nid,name\n\n1,Ann\n   \n,,\n\n2,Bob\n\n")
    frame = read(path)
    assert frame["id"].tolist() == ["1", "2"]
    assert frame[LOCATOR].tolist() == [4, 8]


def test_many_rows_keep_exact_line_numbers(tmp_path):
    lines = ["id,note"] + [
        f'{i:05d},"two\nlines"' if i % 7 == 0 else f"{i:05d},x" for i in range(30_000)
    ]
    frame = read(write(tmp_path, "\n".join(lines) + "\n"))
    expected, line = [], 2
    for i in range(30_000):
        expected.append(line)
        line += 2 if i % 7 == 0 else 1
    assert frame[LOCATOR].tolist() == expected
    assert frame["id"].iloc[-1] == "29999"


# --- header ------------------------------------------------------------------------------


def test_header_names_are_trimmed(tmp_path):
    path = write(tmp_path, " id ;\tname  ; e mail \n1;Ann;a@x.org\n")
    assert list(read(path).columns) == ["id", "name", "e mail", LOCATOR, ROW_ERROR]


def test_duplicate_header_names_after_trimming_are_a_source_error(tmp_path):
    path = write(tmp_path, "id,email, email \n1,a,b\n")
    error = read_error(path)
    assert str(path) in error.message
    assert "line 1: duplicate column 'email' in the header (columns 2 and 3)" in error.message


def test_unnamed_columns_are_left_out(tmp_path):
    path = write(tmp_path, "id,,name,,\n1,junk,Ann,,\n2,,Bob\n")
    assert values(read(path)) == [{"id": "1", "name": "Ann"}, {"id": "2", "name": "Bob"}]


def test_reserved_column_names_are_refused(tmp_path):
    error = read_error(write(tmp_path, f"id,{ROW_ERROR}\n1,x\n"))
    assert "line 1 column 2" in error.message and "reserved" in error.message


# --- ragged rows -------------------------------------------------------------------------


def test_short_rows_get_empty_cells(tmp_path):
    frame = read(write(tmp_path, "id,name,email\n1,Ann\n2\n"))
    assert values(frame) == [
        {"id": "1", "name": "Ann", "email": ""},
        {"id": "2", "name": "", "email": ""},
    ]
    assert frame[ROW_ERROR].tolist() == ["", ""]


def test_long_rows_are_kept_with_a_row_error(tmp_path):
    frame = read(write(tmp_path, "a,b,c,d,e\n1,2,3,4,5,6,7\n1,2,3,4,5\n"))
    assert values(frame)[0] == {"a": "1", "b": "2", "c": "3", "d": "4", "e": "5"}
    assert frame[ROW_ERROR].tolist() == ["row has 7 fields, header has 5", ""]


def test_trailing_empty_fields_beyond_the_header_are_harmless(tmp_path):
    frame = read(write(tmp_path, "id,name\n1,Ann,,\n2,Bob, \n"))
    assert frame[ROW_ERROR].tolist() == ["", ""]


# --- broken quotes -----------------------------------------------------------------------


def test_unbalanced_quote_names_the_line_where_it_opened(tmp_path):
    rows = ["id,name,email"] + [f"P{i:03d},N{i},n{i}@x.org" for i in range(2, 30)]
    rows[11] = 'P012,"Smith,s@x.org'
    path = write(tmp_path, "\n".join(rows) + "\n")
    error = read_error(path)
    assert error.message.startswith(f"{path} line 12 column 6: unbalanced quote")
    assert "never ends" in error.message


def test_quote_that_swallows_lines_until_a_later_quote_is_refused(tmp_path):
    path = write(tmp_path, 'id,name,x\n1,a,q\n2,"b,q\n3,c,q\n4,"d",q\n5,e,q\n')
    error = read_error(path)
    assert error.message.startswith(f"{path} line 3 column 3: unbalanced quote")
    assert "runs to line 5" in error.message


def test_text_after_a_closing_quote_spoils_only_its_own_row(tmp_path):
    path = write(
        tmp_path,
        'id,name,x\n1,"Ann "The Hammer" Lee",q\n2,Bob,q\n3,"Cy"x,"two\nlines"\n4,Di,q\n',
    )
    frame = read(path)
    assert frame["id"].tolist() == ["1", "2", "3", "4"]
    assert frame[LOCATOR].tolist() == [2, 3, 4, 6]
    spoiled = frame[ROW_ERROR].str.startswith("malformed quotes")
    assert spoiled.tolist() == [True, False, True, False]
    assert frame["x"].tolist()[2:] == ["two\nlines", "q"]


def test_broken_quotes_in_the_header_are_a_source_error(tmp_path):
    error = read_error(write(tmp_path, 'id,"na"me\n1,a\n'))
    assert "line 1: the header has malformed quotes" in error.message


# --- files that cannot be used -----------------------------------------------------------


@pytest.mark.parametrize("content", [b"", b"  \r\n\n\t\n", b"\xef\xbb\xbf", b"\n,,\n , ,\n"])
def test_empty_file_is_a_source_error(tmp_path, content):
    path = write(tmp_path, content)
    assert read_error(path).message == f"{path} is empty"


@pytest.mark.parametrize("content", ["id,name\n", "id,name", "id,name\r\n\r\n , \r\n"])
def test_header_without_rows_is_a_source_error(tmp_path, content):
    path = write(tmp_path, content)
    assert read_error(path).message.startswith(f"{path} has a header but no rows")


def test_missing_file_is_a_source_error_naming_the_path(tmp_path):
    path = tmp_path / "nowhere" / "people.csv"
    assert read_error(path).message == f"{path}: no such file"
    assert SourceError.exit_code == 2


def test_directory_is_a_source_error(tmp_path):
    assert "is a directory" in read_error(tmp_path).message


# --- csv_columns -------------------------------------------------------------------------


def test_csv_columns_lists_the_trimmed_named_header_columns(tmp_path):
    path = write(tmp_path, "\ufeff id ; name ;;email\n".encode("utf-8"))
    assert csv_columns(path) == ["id", "name", "email"]
    assert CsvSource("sis", path).columns() == ["id", "name", "email"]


def test_csv_columns_refuses_what_read_refuses(tmp_path):
    with pytest.raises(SourceError, match="duplicate column 'a'"):
        csv_columns(write(tmp_path, "a,a\n1,2\n"))
    with pytest.raises(SourceError, match="is empty"):
        csv_columns(write(tmp_path, "", "empty.csv"))


def test_csv_columns_parses_only_the_header(tmp_path):
    path = write(tmp_path, 'id,name\n1,"never closed\n2,b\n')
    assert csv_columns(path) == ["id", "name"]
    with pytest.raises(SourceError, match="unbalanced quote"):
        read(path)


# --- round trip --------------------------------------------------------------------------

# cp1252 letters whose bytes never form valid UTF-8, so detection cannot mistake them.
LATIN = "éèêëàâäçñßøåæÉÑØÜüöÿ"
ALPHABET = st.sampled_from(list('abcXYZ019 ,;|\t"\'=+-@\n') + list(LATIN))
WIDE = st.sampled_from(
    list('abc09 ,;|\t"\n') + list(LATIN) + ["Ł", "中", "😀", "\u2028", "\x85", "\x0c"]
)
NAME = st.text(st.sampled_from(list("abcdefxyz_019") + list(LATIN)), min_size=1, max_size=6)


@st.composite
def tables(draw, alphabet):
    names = draw(st.lists(NAME, min_size=1, max_size=5, unique=True))
    cell = st.text(alphabet, max_size=12)
    key = st.text(alphabet, min_size=1, max_size=8).filter(lambda s: s.strip())
    rows = draw(
        st.lists(
            st.tuples(key, st.lists(cell, min_size=len(names) - 1, max_size=len(names) - 1)),
            min_size=1,
            max_size=8,
        )
    )
    return names, [[k, *rest] for k, rest in rows]


def serialise(names, rows, delimiter, newline):
    """The CSV text, and the physical line each row starts on."""
    chunks, starts, line = [], [], 1
    for row in [names, *rows]:
        buffer = io.StringIO()
        csv.writer(buffer, delimiter=delimiter, lineterminator=newline).writerow(row)
        chunk = buffer.getvalue()
        starts.append(line)
        line += len(io.StringIO(chunk, newline="").readlines())
        chunks.append(chunk)
    return "".join(chunks), starts[1:]


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    table=tables(ALPHABET),
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
    newline=st.sampled_from(["\n", "\r\n"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]),
    explicit=st.booleans(),
)
def test_written_tables_read_back_identically(
    tmp_path, table, delimiter, newline, encoding, explicit
):
    names, rows = table
    text, starts = serialise(names, rows, delimiter, newline)
    path = write(tmp_path, text.encode(encoding))
    options = {"encoding": encoding, "delimiter": delimiter} if explicit else {}
    if len(names) < 2:  # nothing to detect a delimiter from
        options["delimiter"] = delimiter
    frame = read(path, **options)
    assert list(frame.columns) == [*names, LOCATOR, ROW_ERROR]
    assert frame[names].values.tolist() == rows
    assert frame[LOCATOR].tolist() == starts
    assert set(frame[ROW_ERROR]) == {""}


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table=tables(WIDE), delimiter=st.sampled_from([",", ";", "\t", "|"]))
def test_any_unicode_text_reads_back_from_utf8(tmp_path, table, delimiter):
    names, rows = table
    text, starts = serialise(names, rows, delimiter, "\r\n")
    frame = read(write(tmp_path, text), delimiter=delimiter)
    assert frame[names].values.tolist() == rows
    assert frame[LOCATOR].tolist() == starts
