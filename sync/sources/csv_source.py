"""The CSV source: one file read whole into a raw frame of strings.

The raw frame (see ``sync.model``) has one column per named header column, in header order,
every cell a ``str`` exactly as written (``""`` for an empty or missing cell; leading zeros,
``NA``, ``null`` and formula-like values such as ``=cmd|' /C calc'!A0`` stay as they are),
then two meta columns:

* :data:`sync.model.LOCATOR`: the physical line (int) the record starts on, the header being
  line 1. Quoted line breaks and skipped blank lines are counted, so a record after a
  two-line record keeps its true line number.
* :data:`ROW_ERROR`: ``""``, or why the row cannot be trusted ("row has 7 fields, header
  has 5", broken quotes within the row). The mapping layer rejects such rows.

Rules, beyond those of ``csv_sniff`` (encoding, delimiter) and ``csv_records`` (quotes):

* Header names are trimmed. A name given twice is a ``SourceError``. A column whose header
  cell is empty cannot be mapped and is left out (spreadsheets add such columns for trailing
  delimiters), so any number of unnamed columns is fine. ``_locator`` and ``_row_error`` are
  reserved names.
* A record with fewer fields than the header gets ``""`` for the missing cells. One with more
  fields keeps its first ones and gets a ``ROW_ERROR``, unless the extra fields are all empty
  (trailing delimiters).
* Records whose cells are all empty or blank are skipped (their lines still count).
* A missing or unreadable file, an empty file (0 bytes or only blank lines) and a file with a
  header but no rows are ``SourceError`` (the run stops, SPEC §7).

Parsing uses Python's ``csv`` module on the decoded text rather than ``pandas.read_csv``:
only it tells where each record starts; the frame is then built in one go from the column
lists, with every value kept as ``str`` (what ``dtype=str, keep_default_na=False,
na_filter=False`` would give).
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from sync.errors import SourceError
from sync.model import LOCATOR, ROW_ERROR, SourceData
from sync.sources.csv_records import iter_records
from sync.sources.csv_sniff import decode_csv_bytes, detect_delimiter, normalize_delimiter

#: Meta column of the CSV raw frame: ``""`` for a sound row, else the reason it is unusable.

RESERVED = frozenset({LOCATOR, ROW_ERROR})


class CsvSource:
    """A CSV file as a source (``sync.ports.Source``).

    ``encoding`` and ``delimiter`` are detected when not given (see ``csv_sniff``); a
    delimiter may also be named ``"tab"``.
    """

    def __init__(
        self,
        name: str,
        path: str | Path,
        *,
        encoding: str | None = None,
        delimiter: str | None = None,
    ) -> None:
        self.name = name
        self.path = Path(path)
        self.encoding = encoding
        self.delimiter = delimiter

    def __repr__(self) -> str:
        return f"CsvSource(name={self.name!r}, path={str(self.path)!r})"

    def read(self) -> SourceData:
        """The whole raw frame, or ``SourceError``: never a partial result."""
        origin, text, delimiter = _load(self.path, self.encoding, self.delimiter)
        records = iter_records(text, delimiter, origin)
        header_line, names = _header(records, origin)
        width = len(names)
        rows: list[list[str]] = []
        starts: list[int] = []
        problems: dict[int, str] = {}
        for start, row, problem in records:
            if len(row) != width:
                row, ragged = _fit(row, width)
                problem = "; ".join(p for p in (problem, ragged) if p)
            if problem:
                problems[len(rows)] = problem
            rows.append(row)
            starts.append(start)
        if not rows:
            raise SourceError(f"{origin} has a header but no rows (header on line {header_line})")
        data = {name: cells for name, cells in zip(names, zip(*rows)) if name}
        frame = pd.DataFrame(data, dtype=object)
        frame[LOCATOR] = pd.Series(starts, dtype="int64")
        errors = [""] * len(rows)
        for index, problem in problems.items():
            errors[index] = problem
        frame[ROW_ERROR] = pd.Series(errors, dtype=object)
        return SourceData(name=self.name, kind="csv", frame=frame, origin=origin)

    def columns(self) -> list[str]:
        """The named columns of the header (cheap: parses the header only)."""
        return csv_columns(self.path, self.encoding, self.delimiter)


def csv_columns(
    path: str | Path, encoding: str | None = None, delimiter: str | None = None
) -> list[str]:
    """The named header columns of a CSV file, trimmed, in order; ``SourceError`` when the
    file is unreadable, empty or its header repeats a name. Only the header is parsed."""
    origin, text, delimiter = _load(Path(path), encoding, delimiter)
    _, names = _header(iter_records(text, delimiter, origin), origin)
    return [name for name in names if name]


def _load(path: Path, encoding: str | None, delimiter: str | None) -> tuple[str, str, str]:
    """``(origin, text, delimiter)`` of a CSV file."""
    origin = str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SourceError(f"{origin}: no such file") from None
    except IsADirectoryError:
        raise SourceError(f"{origin} is a directory, not a CSV file") from None
    except OSError as exc:
        raise SourceError(f"{origin}: cannot read the file ({exc.strerror or exc})") from None
    text = decode_csv_bytes(data, origin, encoding)
    if not text.strip():
        raise SourceError(f"{origin} is empty")
    if delimiter is None:
        delimiter = detect_delimiter(text)
    else:
        delimiter = normalize_delimiter(delimiter, origin)
    # A field may be as long as the file; the csv module refuses fields over 128 KiB.
    if csv.field_size_limit() <= len(text):
        csv.field_size_limit(len(text) + 1)
    return origin, text, delimiter


def _header(records, origin: str) -> tuple[int, list[str]]:
    """The header's line and its trimmed names (``""`` for an unnamed column), checked."""
    first = next(records, None)
    if first is None:
        raise SourceError(f"{origin} is empty")
    line, fields, problem = first
    if problem:
        raise SourceError(f"{origin} line {line}: the header has {problem}")
    names = [field.strip() for field in fields]
    seen: dict[str, int] = {}
    for column, name in enumerate(names, start=1):
        if name in RESERVED:
            raise SourceError(
                f"{origin} line {line} column {column}: the column name {name!r} is reserved "
                "for the tool's own use",
                hint="rename that column in the file",
            )
        if name and name in seen:
            raise SourceError(
                f"{origin} line {line}: duplicate column {name!r} in the header "
                f"(columns {seen[name]} and {column})",
                hint="give each column its own name",
            )
        seen.setdefault(name, column)
    return line, names


def _fit(row: list[str], width: int) -> tuple[list[str], str]:
    """``row`` padded or cut to ``width`` cells, and the problem that makes it unusable."""
    if len(row) < width:
        return row + [""] * (width - len(row)), ""
    extra = row[width:]
    problem = ""
    if any(cell.strip() for cell in extra):
        problem = f"row has {len(row)} fields, header has {width}"
    return row[:width], problem
