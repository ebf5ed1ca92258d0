"""Turning a CSV file's bytes into text, and finding its delimiter.

Encoding (when the source does not name one)
    1. A NUL byte anywhere means the file is not text: ``SourceError``.
    2. A UTF-8 byte order mark means UTF-8; the mark is dropped. The rest must decode.
    3. Otherwise UTF-8 if the whole file is valid UTF-8,
    4. else Windows-1252 (cp1252), provided the bytes are plausible cp1252 text: no control
       byte other than tab, LF, VT, FF and CR, and none of the five bytes cp1252 leaves
       undefined. Anything else is "not a text CSV file (binary content at byte N)", N being
       the 0-based offset of the first offending byte.

    A UTF-16 byte order mark is not guessed (SPEC §2 lists UTF-8 and Windows-1252 only): the
    error's hint says to set ``encoding = "utf-16"``.

    With an explicit encoding the file must decode with it (else the error names the byte
    offset, line and column) and must not contain NUL; a leading byte order mark is dropped.

Delimiter (when the source does not name one): see :func:`detect_delimiter`.
"""

from __future__ import annotations

import codecs
import csv
import io
import re

from sync.errors import SourceError

#: Candidate delimiters, in order of preference when the evidence is tied.
DELIMITERS: tuple[str, ...] = (",", ";", "\t", "|")
_NAMES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}

_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_NUL = re.compile(rb"\x00")
# Control bytes that never occur in cp1252 text, plus the five bytes cp1252 leaves undefined.
_NOT_CP1252_TEXT = re.compile(rb"[\x00-\x08\x0e-\x1f\x81\x8d\x8f\x90\x9d]")
_SAMPLE_CHARS = 64 * 1024
_SAMPLE_RECORDS = 10


def decode_csv_bytes(data: bytes, origin: str, encoding: str | None = None) -> str:
    """The text of a CSV file (see the module docstring for the rules)."""
    if encoding is not None:
        return _decode_explicit(data, origin, encoding)
    nul = _NUL.search(data)
    if data.startswith(_UTF16_BOMS):
        raise SourceError(
            f"{origin} is not a UTF-8 or Windows-1252 text file (it starts with a UTF-16 "
            "byte order mark)",
            hint='set encoding = "utf-16" for this source, or save the file as CSV UTF-8',
        )
    if nul:
        raise _binary(data, origin, nul.start())
    if data.startswith(_UTF8_BOM):
        try:
            return data[len(_UTF8_BOM) :].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _undecodable(data, origin, exc.start + len(_UTF8_BOM), "UTF-8") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    bad = _NOT_CP1252_TEXT.search(data)
    if bad:
        raise _binary(data, origin, bad.start())
    return data.decode("cp1252")


def _decode_explicit(data: bytes, origin: str, encoding: str) -> str:
    try:
        codec = codecs.lookup(encoding)
    except LookupError:
        raise SourceError(f"{origin}: unknown encoding {encoding!r}") from None
    try:
        text = data.decode(codec.name)
    except UnicodeDecodeError as exc:
        raise _undecodable(data, origin, exc.start, encoding) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    nul = text.find("\x00")
    if nul >= 0:
        raise _binary(data, origin, len(text[:nul].encode(codec.name, "replace")))
    return text


def _position(data: bytes, offset: int) -> tuple[int, int]:
    """1-based line and column (in bytes) of ``offset``; CRLF, LF and CR all end a line."""
    head = data[:offset]
    line = head.count(b"\n") + head.count(b"\r") - head.count(b"\r\n") + 1
    start = max(head.rfind(b"\n"), head.rfind(b"\r")) + 1
    return line, offset - start + 1


def _binary(data: bytes, origin: str, offset: int) -> SourceError:
    line, column = _position(data, offset)
    hint = ""
    if data.startswith(b"PK\x03\x04"):
        hint = "this looks like an Excel workbook (.xlsx): save it as CSV UTF-8"
    elif data.startswith(b"\xd0\xcf\x11\xe0"):
        hint = "this looks like an Excel 97-2003 workbook (.xls): save it as CSV UTF-8"
    elif data.startswith(b"\x1f\x8b"):
        hint = "this looks like a gzip archive: decompress it first"
    return SourceError(
        f"{origin} is not a text CSV file (binary content at byte {offset}, "
        f"line {line} column {column})",
        hint=hint,
    )


def _undecodable(data: bytes, origin: str, offset: int, encoding: str) -> SourceError:
    line, column = _position(data, offset)
    return SourceError(
        f"{origin} line {line} column {column}: byte 0x{data[offset]:02X} (byte {offset}) "
        f"is not valid {encoding}",
        hint="set the source's encoding to the one the file was written in",
    )


def normalize_delimiter(delimiter: str, origin: str) -> str:
    """An explicit delimiter, checked. ``"tab"``, ``"\\t"``, ``"comma"``, ``"semicolon"``
    and ``"pipe"`` are accepted as names."""
    value = _NAMES.get(delimiter.lower(), delimiter) if len(delimiter) > 1 else delimiter
    if len(value) != 1 or value in "\"\r\n":
        raise SourceError(
            f"{origin}: the delimiter must be one character other than a quote or a line "
            f"break, not {delimiter!r}"
        )
    return value


def detect_delimiter(text: str) -> str:
    """The delimiter of a CSV text, chosen among ``,`` ``;`` tab and ``|``.

    The rule: each candidate splits the header (the first non-blank record, quotes honoured)
    into some number of fields; a candidate that does not split the header at all is out.
    Among the others, the winner is the one under which the most of the next records (up to
    10) have exactly as many fields as the header; ties go to the one that splits the header
    into more fields, then to the order ``,`` ``;`` tab ``|``. When no candidate splits the
    header the file has a single column and ``,`` is returned.
    """
    sample = text[:_SAMPLE_CHARS]
    truncated = len(text) > len(sample)
    best: tuple[int, int, int] | None = None
    chosen = ","
    for preference, candidate in enumerate(DELIMITERS):
        widths = _record_widths(sample, candidate, truncated)
        if not widths or widths[0] < 2:
            continue
        header, rest = widths[0], widths[1:]
        score = (sum(w == header for w in rest), header, -preference)
        if best is None or score > best:
            best, chosen = score, candidate
    return chosen


def _record_widths(sample: str, delimiter: str, truncated: bool) -> list[int]:
    """Field counts of the first non-blank records of ``sample`` (a possibly cut record at
    the end of a truncated sample is left out)."""
    reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter, strict=False)
    widths: list[int] = []
    try:
        for row in reader:
            if row and "".join(row).strip():
                widths.append(len(row))
                if len(widths) > _SAMPLE_RECORDS:
                    break
    except csv.Error:  # pragma: no cover - a lenient reader only fails on huge fields
        pass
    if truncated and len(widths) <= _SAMPLE_RECORDS:
        widths = widths[:-1]
    return widths
