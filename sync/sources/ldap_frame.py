"""The columns of an LDAP source's raw frame, built from the pages of search entries.

Each entry is ``{"dn": str, "raw_attributes": {name: [bytes, …]}, …}``, as ldap3 or the
lean receiving (``sync.sources.ldap_receive``) give it. Columns are named in lower case,
every cell is a ``list[str]`` (``[]`` when the entry lacks the attribute) converted by
``sync.sources.ldap_values``. An attribute sent in ranges (AD range retrieval:
``member;range=0-1499``) holds only part of its values: ``refuse(dn, name, key)`` is called
for it and must raise.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager

from sync.sources.ldap_values import values_decoder_for

Pages = Iterable[list[dict]]
Refuse = Callable[[str, str, str], None]  # (dn, attribute, range-tagged key)


def requested_columns(pages: Pages, names: Sequence[str], binary_attributes: Sequence[str],
                      refuse: Refuse) -> tuple[list[str], dict[str, list[list[str]]]]:
    """The DNs and one column per name in ``names`` (lower case)."""
    dns: list[str] = []
    columns: dict[str, list] = {name: [] for name in names}
    specs = [(n, values_decoder_for(n, binary_attributes), columns[n]) for n in columns]
    for page in pages:
        for entry in page:
            dns.append(entry["dn"])
            raw = entry["raw_attributes"]
            for name, decode, out in specs:
                values = raw.get(name)  # lean and ldap3 entries both match lower-case names
                if values is None:
                    values = _missing(entry["dn"], raw, name, refuse)
                out.append(decode(values) if values else [])
    return dns, columns


def all_columns(pages: Pages, binary_attributes: Sequence[str], refuse: Refuse
                ) -> tuple[list[str], dict[str, list[list[str]]]]:
    """The DNs and one column per attribute any entry has, in order of first appearance."""
    dns: list[str] = []
    rows: list[dict[str, list[str]]] = []
    decoders: dict = {}
    for page in pages:
        for entry in page:
            dns.append(entry["dn"])
            row = {}
            for name, values in entry["raw_attributes"].items():
                key = name.lower()
                if ";range=" in key and key.startswith(f"{key.partition(';')[0]};range="):
                    refuse(entry["dn"], key.partition(";")[0], key)
                decode = decoders.get(key)
                if decode is None:
                    decode = decoders[key] = values_decoder_for(key, binary_attributes)
                row[key] = decode(values) if values else []
            rows.append(row)
    return dns, {name: [row.get(name, []) for row in rows] for name in decoders}


def _missing(dn: str, raw, name: str, refuse: Refuse) -> list | None:
    """The values of ``name`` in an entry where it is not found as written: under a name in
    another case, or none (after refusing a range-tagged one)."""
    raw = {key.lower(): values for key, values in raw.items()}
    for key in raw:
        if key.startswith(f"{name};range="):
            refuse(dn, name, key)
    return raw.get(name)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while a frame is built, as it was after.

    A read keeps hundreds of thousands of new lists (one per cell), and each time the
    survivors grow by a quarter the collector walks every object of the process: reading
    50 000 entries spent about 0.3 s, as long as the rest of the read, in six such passes
    that free nothing (reading makes no reference cycles). The pause is process-wide and
    lasts one read; sources are read before any worker thread starts."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
