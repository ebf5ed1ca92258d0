"""The vocabulary shared by every layer: frozen values and enums, no behaviour.

Frames
------
Three kinds of pandas frame cross layer boundaries; their columns are named here once.

* **raw frame** (``SourceData.frame``): one row per CSV line or LDAP entry, one column per
  source column/attribute, every cell a ``str`` (CSV; ``""`` for an empty cell) or a
  ``list[str]`` (LDAP; ``[]`` when the attribute is absent), plus :data:`LOCATOR`.
* **desired frame**: one row per key (the index, named ``key``), one column per mapped Chamilo
  field (:data:`FIELDS`, values are ``str``; ``status`` too, e.g. ``"5"``), one column
  ``extra.<name>`` per extra field, plus the meta columns :data:`ACTIVE` (bool),
  :data:`SOURCE` (owning source name) and :data:`LOCATOR`.
* **known frame** (``StateStore.known()``): one row per key the state store knows, the last
  pushed field values under the same column names (missing value: ``None``), plus
  :data:`USER_ID` (Chamilo user id, nullable int), :data:`SOURCE` (``None`` for users created
  by ``import``) and :data:`ACTIVE` (bool).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import pandas as pd

#: Chamilo user fields this tool maps, in the order reports list them. ``password`` is not
#: one of them: it is never diffed, stored or reported.
FIELDS: tuple[str, ...] = (
    "firstname",
    "lastname",
    "email",
    "loginname",
    "status",
    "language",
    "phone",
    "expiration_date",
)
#: Fields whose ``required`` defaults to true.
REQUIRED_BY_DEFAULT = frozenset({"firstname", "lastname", "email", "loginname"})
#: Prefix of extra-field columns in desired/known frames: ``extra.department``.
EXTRA_PREFIX = "extra."

# Meta columns.
LOCATOR = "_locator"  # CSV: physical line number (int, header = 1); LDAP: the entry's DN (str)
ROW_ERROR = "_row_error"  # CSV: why a record is malformed ("" when fine); the row is rejected
ACTIVE = "_active"
SOURCE = "_source"
USER_ID = "_user_id"
KEY = "key"  # the index name of desired and known frames


def field_columns(columns) -> list[str]:
    """The columns of a desired/known frame that hold user values (fields and extras)."""
    return [c for c in columns if c in FIELDS or str(c).startswith(EXTRA_PREFIX)]


class Action(enum.StrEnum):
    CREATE = "create"
    UPDATE = "update"
    ENABLE = "enable"
    DISABLE = "disable"
    ADOPT = "adopt"  # record an existing Chamilo account (adopt command, create answered 0)


#: The order in which ``apply`` executes actions (SPEC §7).
APPLY_ORDER: tuple[Action, ...] = (Action.ENABLE, Action.UPDATE, Action.CREATE, Action.DISABLE)


class Status(enum.StrEnum):
    APPLIED = "applied"
    FAILED = "failed"
    UNKNOWN = "unknown"


class Mode(enum.StrEnum):
    PLAN = "plan"
    APPLY = "apply"
    IMPORT = "import"
    IMPORT_DRY_RUN = "import-dry-run"
    ADOPT = "adopt"


@dataclass(frozen=True)
class SourceData:
    """What a source adapter returns: the raw frame of one source.

    ``kind`` is ``"csv"`` (cells are ``str``, locator = line number) or ``"ldap"`` (cells are
    ``list[str]``, locator = DN, column names lower-cased). ``origin`` names the file or URL in
    messages.
    """

    name: str
    kind: Literal["csv", "ldap"]
    frame: pd.DataFrame
    origin: str


@dataclass(frozen=True)
class Rejection:
    """A source row that failed its mapping; it is reported and never sent.

    ``field`` is the Chamilo field name (``key`` for key problems, ``extra.<name>`` for extras).
    ``line`` is set for CSV sources, ``dn`` for LDAP sources.
    """

    source: str
    key: str
    field: str
    reason: str
    line: int | None = None
    dn: str | None = None

    def as_dict(self) -> dict:
        out: dict = {"source": self.source}
        if self.dn is not None:
            out["dn"] = self.dn
        else:
            out["line"] = self.line
        out.update(key=self.key, field=self.field, reason=self.reason)
        return out


@dataclass(frozen=True)
class MappedSource:
    """One source after its mapping.

    ``desired``: the valid rows as a desired frame (active and inactive rows; see ACTIVE).
    ``present_keys``: every key seen in the source, rejected rows included (a rejected row's
    user is left as it is). ``passwords``: key → password for mappings that take the password
    from a column (secret: never logged, reported or stored). ``generate_passwords``: the
    mapping says ``password = { generate = true }``. ``rows``: rows or entries read.
    """

    name: str
    rows: int
    desired: pd.DataFrame
    rejected: tuple[Rejection, ...]
    present_keys: frozenset[str]
    passwords: Mapping[str, str] = field(default_factory=dict, repr=False)
    generate_passwords: bool = False


@dataclass(frozen=True)
class Change:
    """One planned action for one key.

    ``fields``: the desired values (Chamilo field names and ``extra.<name>``) for create,
    update and enable, ``{}`` for disable. ``changes``: for update, field → (old, new).
    ``source``: the owning source (``None`` for ``import``).
    """

    action: Action
    key: str
    source: str | None = None
    fields: Mapping[str, str] = field(default_factory=dict)
    changes: Mapping[str, tuple[str | None, str | None]] = field(default_factory=dict)


@dataclass(frozen=True)
class SourceSummary:
    name: str
    rows: int
    rejected: int


@dataclass(frozen=True)
class Plan:
    """Everything a run would do, decided before the first write."""

    changes: tuple[Change, ...]
    unchanged: int
    rejected: tuple[Rejection, ...]
    sources: tuple[SourceSummary, ...]
    managed_active: int = 0  # active users owned by a source, for the share in max_disable

    def of(self, action: Action) -> list[Change]:
        return [c for c in self.changes if c.action is action]

    def counts(self) -> dict[str, int]:
        out = {a.value: 0 for a in APPLY_ORDER}
        for c in self.changes:
            if c.action.value in out:
                out[c.action.value] += 1
        out["unchanged"] = self.unchanged
        out["rejected"] = len(self.rejected)
        return out


@dataclass(frozen=True)
class UserPayload:
    """One user as sent to Chamilo. ``fields`` uses Chamilo's create names (``loginname``);
    the client renames for edit. ``password`` is secret and hidden from ``repr``."""

    key: str
    fields: Mapping[str, str]
    extras: Mapping[str, str] = field(default_factory=dict)
    password: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ItemResult:
    """Chamilo's answer for one item of a batch: the raw ``result`` string (a user id, ``"0"``,
    ``"1"``, a sentence) or ``None`` when the server returns nothing (Chamilo 1.9
    enable/disable)."""

    key: str
    result: str | None


@dataclass(frozen=True)
class ChamiloUser:
    user_id: int
    firstname: str
    lastname: str


@dataclass(frozen=True)
class Outcome:
    action: Action
    key: str
    status: Status
    chamilo_user_id: int | None = None
    message: str = ""

    def as_dict(self) -> dict:
        return {
            "action": self.action.value,
            "key": self.key,
            "status": self.status.value,
            "chamilo_user_id": self.chamilo_user_id,
            "message": self.message,
        }


@dataclass(frozen=True)
class RunRecord:
    run_id: int
    mode: str
    started_at: datetime
    finished_at: datetime | None
    counts: Mapping[str, int]
    exit_code: int | None
