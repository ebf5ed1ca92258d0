"""Factories for desired and known frames, for unit tests of the core."""

from __future__ import annotations

import pandas as pd

from sync.model import ACTIVE, KEY, LOCATOR, SOURCE, USER_ID


def make_person(key: str = "P001", **overrides) -> dict:
    base = {
        "key": key,
        "firstname": "Ann",
        "lastname": "Lee",
        "email": f"{key.lower()}@school.example",
        "loginname": f"user{key.lower()}",
        "status": "5",
        ACTIVE: True,
        SOURCE: "sis",
        LOCATOR: 2,
    }
    base.update(overrides)
    return base


def desired_frame(*people: dict) -> pd.DataFrame:
    if not people:
        return pd.DataFrame(columns=[ACTIVE, SOURCE, LOCATOR], index=pd.Index([], name=KEY, dtype=object))
    frame = pd.DataFrame(list(people)).set_index("key")
    frame.index.name = KEY
    frame[ACTIVE] = frame[ACTIVE].astype(bool)
    return frame


def known_frame(*people: dict) -> pd.DataFrame:
    """People as the state store would return them: values last pushed + meta columns."""
    rows = []
    for p in people:
        row = {k: v for k, v in p.items() if k not in (LOCATOR,)}
        row.setdefault(USER_ID, 100)
        rows.append(row)
    if not rows:
        return pd.DataFrame(
            {USER_ID: pd.Series([], dtype="Int64"), SOURCE: pd.Series([], dtype=object),
             ACTIVE: pd.Series([], dtype=bool)},
            index=pd.Index([], name=KEY, dtype=object),
        )
    frame = pd.DataFrame(rows).set_index("key")
    frame.index.name = KEY
    frame[USER_ID] = frame[USER_ID].astype("Int64")
    frame[ACTIVE] = frame[ACTIVE].astype(bool)
    return frame
