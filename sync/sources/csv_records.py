"""The records of a decoded CSV text, each with the physical line it starts on.

Python's ``csv`` module does the parsing (``"`` quotes, doubled quotes inside them, quoted
line breaks); CRLF, LF and a lone CR all end a physical line. The header is whatever record
comes first, so its line is 1 unless blank lines precede it.

Quoting trouble is handled by where it starts:

* a quoted field that never ends swallows the rest of the file: ``SourceError`` naming the
  line and column where its quote opened;
* a quoted field that spans several lines and is then followed by text after its closing
  quote is most likely an unbalanced quote that swallowed whole records: ``SourceError``
  too, naming the opening line;
* text after a closing quote within one line (``"Ann "The Hammer" Lee"``) only spoils that
  record: it is read leniently and comes with an error message that the caller turns into a
  rejection of the row.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterator
from dataclasses import dataclass

from sync.errors import SourceError

QUOTE = '"'


@dataclass(frozen=True)
class _QuoteTrouble:
    open_line: int  # where the quoted field concerned opened
    open_column: int
    junk_line: int | None = None  # where text follows its closing quote; None: never closed
    junk_column: int | None = None


def iter_records(
    text: str, delimiter: str, origin: str
) -> Iterator[tuple[int, list[str], str]]:
    """``(start line, fields, problem)`` for each non-blank record of ``text``.

    ``problem`` is ``""`` or a sentence for a record whose quoting is broken within one line.
    A record whose cells are all empty or blank (an empty line, or the ``,,,`` lines
    spreadsheets leave behind) is skipped; its lines still count.
    """
    lines = io.StringIO(text, newline="").readlines()
    source = iter(lines)
    reader = csv.reader(source, delimiter=delimiter, strict=True)
    base = 0  # lines consumed by other readers than ``reader``
    while True:
        start = reader.line_num + base + 1
        problem = ""
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            end = reader.line_num + base
            troubles = _find_troubles(lines[start - 1 : end], start, delimiter)
            if not troubles:
                message = f"{origin} line {start}: cannot read this record ({exc})"
                raise SourceError(message) from None
            _raise_if_fatal(origin, troubles[:1], end)
            lenient = csv.reader(
                itertools.chain(lines[start - 1 : end], source), delimiter=delimiter
            )
            row = next(lenient)
            consumed = lenient.line_num
            base += consumed - (end - start + 1)
            last_line = start - 1 + consumed
            record = lines[start - 1 : last_line]
            _raise_if_fatal(origin, _find_troubles(record, start, delimiter), last_line)
            problem = (
                "malformed quotes: text follows the closing quote of the field that starts "
                f"at column {troubles[0].open_column}"
            )
        if not row or not "".join(row).strip():
            continue
        yield start, row, problem


def _raise_if_fatal(origin: str, troubles: list[_QuoteTrouble], last_line: int) -> None:
    """Raise for a quote that never closes, or one that closes lines later followed by text."""
    for trouble in troubles:
        if trouble.junk_line is None:
            _raise_unbalanced(origin, trouble, last_line)
        if trouble.junk_line != trouble.open_line:
            _raise_swallowed(origin, trouble)


def _raise_unbalanced(origin: str, trouble: _QuoteTrouble, last_line: int) -> None:
    raise SourceError(
        f"{origin} line {trouble.open_line} column {trouble.open_column}: unbalanced quote — "
        f"the field that starts here never ends (it runs to the end of the file, line "
        f"{last_line})",
        hint="close the quote, or double a quote that belongs to the value (\"\")",
    )


def _raise_swallowed(origin: str, trouble: _QuoteTrouble) -> None:
    raise SourceError(
        f"{origin} line {trouble.open_line} column {trouble.open_column}: unbalanced quote — "
        f"the quoted field that starts here runs to line {trouble.junk_line}, where text "
        f"follows its closing quote (column {trouble.junk_column}); the lines in between "
        "were probably swallowed",
        hint="close the quote, or double a quote that belongs to the value (\"\")",
    )


def _find_troubles(lines: list[str], first_line: int, delimiter: str) -> list[_QuoteTrouble]:
    """The quoting problems in the text of one record, read as ``csv`` reads it leniently:
    each text after a closing quote, then a quoted field still open at the end, if any."""
    troubles: list[_QuoteTrouble] = []
    state = "start"  # start | plain | quoted | after_quote
    opened = (first_line, 1)
    for line, text in enumerate(lines, start=first_line):
        for column, char in enumerate(text, start=1):
            if state == "quoted":
                if char == QUOTE:
                    state = "after_quote"
            elif state == "after_quote" and char == QUOTE:
                state = "quoted"
            elif char == delimiter or char in "\r\n":
                state = "start"
            elif state == "after_quote":
                troubles.append(_QuoteTrouble(*opened, line, column))
                state = "plain"
            elif state == "start":
                state, opened = ("quoted", (line, column)) if char == QUOTE else ("plain", opened)
    if state == "quoted":
        troubles.append(_QuoteTrouble(*opened))
    return troubles
