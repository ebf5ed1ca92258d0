"""The configuration file (SPEC §2), parsed once into frozen settings.

Every problem is collected and reported together (``ConfigError``), each naming the file and
the dotted key. Secrets are never read from the file itself: only references to an environment
variable (``*_env``) or a file (``*_file``), resolved when a command needs them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sync.errors import ConfigError
from sync.guards import MaxDisable

DEFAULT_CONFIG = "chamilo-sync.toml"
CONFIG_ENV = "CHAMILO_SYNC_CONFIG"


@dataclass(frozen=True)
class SecretRef:
    """Where a secret lives: an environment variable or a file. ``repr`` shows the reference,
    never the value."""

    what: str  # e.g. "chamilo.security_key", for messages
    env: str | None = None
    file: Path | None = None

    def reveal(self) -> str:
        if self.env is not None:
            value = os.environ.get(self.env)
            if not value:
                raise ConfigError([f"{self.what}: environment variable {self.env} is not set"])
            return value
        assert self.file is not None
        try:
            value = self.file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError([f"{self.what}: cannot read {self.file}: {exc.strerror}"]) from None
        if not value:
            raise ConfigError([f"{self.what}: {self.file} is empty"])
        return value


@dataclass(frozen=True)
class ChamiloSettings:
    url: str
    security_key: SecretRef
    client_ip: str
    original_user_id_name: str = "external_user_id"
    batch_size: int = 100
    concurrency: int = 2
    timeout: float = 60.0
    verify_tls: bool = True
    retries: int = 3  # per call, for failures whose retry is safe (never a sent create)
    max_retry_seconds: float = 60.0  # retries of one call stop after this long


@dataclass(frozen=True)
class SourceSettings:
    name: str
    type: Literal["csv", "ldap"]
    mapping: Path
    # csv
    path: Path | None = None
    encoding: str | None = None
    delimiter: str | None = None
    # ldap
    url: str | None = None
    bind_dn: str | None = None
    bind_password: SecretRef | None = None
    base_dn: str | None = None
    filter: str = "(objectClass=*)"
    scope: Literal["subtree", "one"] = "subtree"
    page_size: int = 500
    ca_file: Path | None = None
    start_tls: bool = False
    verify_tls: bool = True
    timeout: float = 30.0


@dataclass(frozen=True)
class SafetySettings:
    max_disable: MaxDisable = MaxDisable(percent=5.0)
    on_missing: Literal["disable", "keep"] = "disable"


@dataclass(frozen=True)
class ScheduleSettings:
    cron: str | None = None
    timezone: str = "UTC"


@dataclass(frozen=True)
class Settings:
    path: Path
    chamilo: ChamiloSettings | None
    state_url: str
    sources: tuple[SourceSettings, ...]
    safety: SafetySettings
    schedule: ScheduleSettings

    def source_names(self) -> list[str]:
        return [s.name for s in self.sources]


def locate_config(explicit: str | os.PathLike | None) -> Path:
    """``--config``, else ``$CHAMILO_SYNC_CONFIG``, else ``./chamilo-sync.toml``."""
    if explicit:
        return Path(explicit)
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    return Path(DEFAULT_CONFIG)
