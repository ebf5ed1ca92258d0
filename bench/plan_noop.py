"""Benchmark: the nightly no-op run of a large site, against reading the export with pandas.

    python bench/plan_noop.py [--users 100000]

Builds an export of N people and a SQLite state store that already holds exactly what the
export says (as after a previous apply), then measures, in the same run:

* baseline: ``pandas.read_csv(export, dtype=str)``, the least any run must do;
* read + map: the CSV source and the example mapping;
* full plan: read + map + load the state store + diff (what ``plan`` and a no-op ``apply`` do);
* with 1 % changed: the same with 1 % of the people edited in the export.

It prints each as a ratio to the baseline. The target is a small constant factor: the diff
must stay vectorised (no Python object per unchanged user). Not a test: nothing here gates CI.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sync.desired import combine  # noqa: E402
from sync.diff import DiffOptions, plan_changes  # noqa: E402
from sync.mapping import map_source  # noqa: E402
from sync.mapping_file import load_mapping  # noqa: E402
from sync.model import Action, Outcome, Status  # noqa: E402
from sync.sources.csv_source import CsvSource  # noqa: E402
from sync.state.sql_store import SqlStateStore  # noqa: E402

HEADER = "person_id,first_name,last_name,email,role,dept,phone,end_date,state\n"


def write_export(path: Path, users: int, changed_every: int = 0) -> None:
    roles = ("student", "teacher", "staff")
    with path.open("w", encoding="utf-8") as out:
        out.write(HEADER)
        for i in range(users):
            email = f"person{i}@school.example"
            if changed_every and i % changed_every == 0:
                email = f"new.person{i}@school.example"
            out.write(f"{i:07d},Fírst{i},Läst{i},{email},{roles[i % 3]},Dept{i % 40},"
                      f"+33 1 {i:08d},30/06/2027,active\n")


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def desired_of(export: Path, spec):
    data = CsvSource("sis", export).read()
    return combine([map_source(spec, data)])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=100_000)
    users = parser.parse_args().users
    spec = load_mapping(REPO / "mappings/people.toml")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        export, changed = folder / "people.csv", folder / "changed.csv"
        write_export(export, users)
        write_export(changed, users, changed_every=100)
        store = SqlStateStore(f"sqlite:///{folder / 'state.db'}")
        combined = desired_of(export, spec)
        plan = plan_changes(combined.desired, store.known(), combined.present_keys)
        pairs = [(c, Outcome(Action.CREATE, c.key, Status.APPLIED, n + 1))
                 for n, c in enumerate(plan.changes)]
        for i in range(0, len(pairs), 5000):
            store.record(pairs[i:i + 5000])

        def full_plan(path: Path):
            c = desired_of(path, spec)
            return plan_changes(c.desired, store.known(), c.present_keys,
                                DiffOptions(scope=frozenset({"sis"})))

        base, _ = timed(lambda: pd.read_csv(export, dtype=str, keep_default_na=False))
        read_map, _ = timed(lambda: desired_of(export, spec))
        noop, noop_plan = timed(lambda: full_plan(export))
        some, some_plan = timed(lambda: full_plan(changed))
        store.close()
    assert noop_plan.changes == (), "the no-op plan should be empty"
    print(f"{users} users; baseline pandas.read_csv = 1.0")
    print(f"  read + map               {read_map / base:6.1f}x")
    print(f"  full plan, nothing to do {noop / base:6.1f}x  ({len(noop_plan.changes)} changes)")
    print(f"  full plan, 1% changed    {some / base:6.1f}x  ({len(some_plan.changes)} changes)")


if __name__ == "__main__":
    main()
