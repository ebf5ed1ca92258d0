"""The configuration file (SPEC §2), parsed once into frozen settings.

Every problem is collected and reported together (``ConfigError``), each naming the file and
the dotted key. Secrets are never read from the file itself: only references to an environment
variable (``*_env``) or a file (``*_file``), resolved when a command needs them.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sync.errors import ConfigError

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
class MaxDisable:
    """A count (``"200"``) or a share of the active managed users (``"5%"``), rounded down."""

    count: int | None = None
    percent: float | None = None

    @classmethod
    def parse(cls, raw: Any) -> MaxDisable:
        if isinstance(raw, bool):
            raise ValueError("a count such as 200 or a share such as \"5%\"")
        if isinstance(raw, int):
            if raw < 0:
                raise ValueError("must not be negative")
            return cls(count=raw)
        if isinstance(raw, str):
            text = raw.strip()
            try:
                if text.endswith("%"):
                    pct = float(text[:-1])
                    if not 0 <= pct <= 100:
                        raise ValueError
                    return cls(percent=pct)
                count = int(text)
                if count < 0:
                    raise ValueError
                return cls(count=count)
            except ValueError:
                pass
        raise ValueError(f"expected a count such as 200 or a share such as \"5%\", got {raw!r}")

    def limit(self, managed_active: int) -> int:
        if self.count is not None:
            return self.count
        return int(managed_active * (self.percent or 0.0) / 100)

    def __str__(self) -> str:
        return f"{self.count}" if self.count is not None else f"{self.percent:g}%"


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


def load_settings(path: Path) -> Settings:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            [f"{path}: configuration file not found"],
            hint=f"pass --config PATH, set {CONFIG_ENV}, or create ./{DEFAULT_CONFIG}",
        ) from None
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{path}: not UTF-8 text (byte {exc.start})"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}"]) from None
    from sync.config_reader import SettingsReader

    return SettingsReader(path).settings(raw)
