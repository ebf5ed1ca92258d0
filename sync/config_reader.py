"""Reads the configuration TOML tree into ``sync.config`` settings, collecting every problem
(with file and dotted key) instead of stopping at the first."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import tomllib

from sync.config import (
    CONFIG_ENV,
    DEFAULT_CONFIG,
    ChamiloSettings,
    SafetySettings,
    ScheduleSettings,
    SecretRef,
    Settings,
    SourceSettings,
)
from sync.errors import ConfigError
from sync.guards import MaxDisable


class SettingsReader:
    """Reads the TOML tree, collecting every problem instead of stopping at the first."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.base = path.resolve().parent
        self.problems: list[str] = []

    # -- primitives ---------------------------------------------------------------------------
    def problem(self, key: str, text: str) -> None:
        self.problems.append(f"{self.path}: {key}: {text}")

    def table(self, raw: dict, key: str, allowed: set[str], where: str) -> dict:
        value = raw.get(key, {})
        if not isinstance(value, dict):
            self.problem(where, "must be a table")
            return {}
        for unknown in sorted(set(value) - allowed):
            self.problem(f"{where}.{unknown}", _unknown_key_text(unknown, allowed))
        return value

    def get(self, tbl: dict, where: str, key: str, kind: type | tuple, default: Any = None,
            required: bool = False) -> Any:
        if key not in tbl:
            if required:
                self.problem(f"{where}.{key}", "is required")
            return default
        value = tbl[key]
        ok = isinstance(value, kind) and not (kind in (int, float, (int, float)) and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            ok, value = True, float(value)
        if not ok:
            names = {str: "a string", int: "a whole number", bool: "true or false", float: "a number",
                     list: "a list"}
            self.problem(f"{where}.{key}", f"must be {names.get(kind, kind)}, got {value!r}")
            return default
        if isinstance(value, str) and required and not value.strip():
            self.problem(f"{where}.{key}", "must not be empty")
            return default
        return value

    def positive(self, tbl: dict, where: str, key: str, kind: type, default: Any) -> Any:
        value = self.get(tbl, where, key, kind, default)
        if value is not None and value <= 0:
            self.problem(f"{where}.{key}", f"must be greater than 0, got {value}")
            return default
        return value

    def local_path(self, value: str | None) -> Path | None:
        if value is None:
            return None
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.base / p

    def secret(self, tbl: dict, where: str, name: str, required: bool) -> SecretRef | None:
        what = f"{where}.{name}"
        if name in tbl:
            self.problem(what, f"secrets are never written in the file: use {name}_env "
                               f"(an environment variable) or {name}_file (a file)")
        env = self.get(tbl, where, f"{name}_env", str)
        file = self.get(tbl, where, f"{name}_file", str)
        if env and file:
            self.problem(what, f"give {name}_env or {name}_file, not both")
            return None
        if env:
            return SecretRef(what, env=env)
        if file:
            return SecretRef(what, file=self.local_path(file))
        if required and name not in tbl:
            self.problem(what, f"is required: set {name}_env or {name}_file")
        return None

    # -- sections -----------------------------------------------------------------------------
    def settings(self, raw: dict) -> Settings:
        for unknown in sorted(set(raw) - {"chamilo", "state", "source", "safety", "schedule"}):
            self.problem(unknown, _unknown_key_text(unknown, {"chamilo", "state", "source", "safety", "schedule"}))
        chamilo = self.chamilo(raw) if "chamilo" in raw else None
        state_url = self.state(raw)
        sources = self.sources(raw)
        safety = self.safety(raw)
        schedule = self.schedule(raw)
        if self.problems:
            raise ConfigError(self.problems + self._mapping_problems(raw))
        return Settings(self.path, chamilo, state_url, sources, safety, schedule)

    def _mapping_problems(self, raw: dict) -> list[str]:
        """When the config is wrong anyway, the problems of its mapping files too, so that one
        run shows everything to fix (a correct config has its mappings checked when used)."""
        from sync.mapping_file import load_mapping

        problems: list[str] = []
        items = raw.get("source", [])
        for item in items if isinstance(items, list) else []:
            mapping = item.get("mapping") if isinstance(item, dict) else None
            path = self.local_path(mapping) if isinstance(mapping, str) else None
            if path is None or not path.is_file():
                continue
            try:
                load_mapping(path)
            except ConfigError as exc:
                problems += [p for p in exc.problems if p not in problems]
        return problems

    def chamilo(self, raw: dict) -> ChamiloSettings | None:
        w = "chamilo"
        t = self.table(raw, w, {"url", "security_key", "security_key_env", "security_key_file",
                                "client_ip", "original_user_id_name", "batch_size",
                                "concurrency", "timeout", "verify_tls", "retries",
                                "max_retry_seconds"}, w)
        url = self.get(t, w, "url", str, required=True)
        if url and not url.startswith(("http://", "https://")):
            self.problem(f"{w}.url", f"must start with http:// or https://, got {url!r}")
        key = self.secret(t, w, "security_key", required=True)
        client_ip = self.get(t, w, "client_ip", str)  # "" = no IP (ws_auth_ip set in Chamilo)
        if client_ip and not _is_ip(client_ip.strip()):
            self.problem(f"{w}.client_ip", f"must be an IP address such as \"203.0.113.7\" "
                                           f"(or \"\"), got {client_ip!r}")
        if client_ip is None and "client_ip" not in t:
            self.problem(f"{w}.client_ip", "is required: the address Chamilo sees this host as "
                                           "(\"\" if Chamilo's webservice-auth-ip.conf.php sets $ws_auth_ip)")
        name = self.get(t, w, "original_user_id_name", str, "external_user_id")
        batch = self.positive(t, w, "batch_size", int, 100)
        conc = self.positive(t, w, "concurrency", int, 2)
        timeout = self.positive(t, w, "timeout", float, 60.0)
        verify = self.get(t, w, "verify_tls", bool, True)
        retries = self.get(t, w, "retries", int, 3)
        if retries is not None and retries < 0:
            self.problem(f"{w}.retries", f"must be 0 or more, got {retries}")
            retries = 3
        retry_seconds = self.positive(t, w, "max_retry_seconds", float, 60.0)
        if not (url and key) or client_ip is None:
            return None
        return ChamiloSettings(url.rstrip("?"), key, client_ip.strip(), name, batch, conc,
                               timeout, verify, retries, retry_seconds)

    def state(self, raw: dict) -> str:
        t = self.table(raw, "state", {"url"}, "state")
        url = self.get(t, "state", "url", str, "sqlite:///state.db")
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/"):
            rest = url[len(prefix):]
            if rest and not rest.startswith(":memory:"):
                url = prefix + str(self.base / rest)
        return url

    def sources(self, raw: dict) -> tuple[SourceSettings, ...]:
        items = raw.get("source", [])
        if not isinstance(items, list):
            self.problem("source", "must be an array of tables: write [[source]]")
            return ()
        out: list[SourceSettings] = []
        seen: set[str] = set()
        for i, item in enumerate(items):
            w = f"source[{i}]"
            if not isinstance(item, dict):
                self.problem(w, "must be a table")
                continue
            src = self.source(item, w)
            if src is None:
                continue
            if src.name in seen:
                self.problem(f"{w}.name", f"source name {src.name!r} is used twice")
            seen.add(src.name)
            out.append(src)
        return tuple(out)

    def source(self, t: dict, w: str) -> SourceSettings | None:
        common = {"name", "type", "mapping"}
        csv_keys = {"path", "encoding", "delimiter"}
        ldap_keys = {"url", "bind_dn", "bind_password", "bind_password_env", "bind_password_file",
                     "base_dn", "filter", "scope", "page_size", "ca_file", "start_tls",
                     "verify_tls", "timeout"}
        name = self.get(t, w, "name", str, required=True)
        kind = self.get(t, w, "type", str, required=True)
        mapping = self.local_path(self.get(t, w, "mapping", str, required=True))
        if kind not in (None, "csv", "ldap"):
            self.problem(f"{w}.type", f"must be \"csv\" or \"ldap\", got {kind!r}")
            return None
        if kind is None:
            return None
        allowed = common | (csv_keys if kind == "csv" else ldap_keys)
        for unknown in sorted(set(t) - allowed):
            self.problem(f"{w}.{unknown}", _unknown_key_text(unknown, allowed) + f" for a {kind} source")
        if mapping is not None and not mapping.is_file():
            self.problem(f"{w}.mapping", f"mapping file {mapping} does not exist")
        if kind == "csv":
            path = self.local_path(self.get(t, w, "path", str, required=True))
            encoding = self.get(t, w, "encoding", str)
            if encoding:
                import codecs
                try:
                    codecs.lookup(encoding)
                except LookupError:
                    self.problem(f"{w}.encoding", f"unknown encoding {encoding!r}")
            delimiter = self.get(t, w, "delimiter", str)
            if delimiter is not None and (len(delimiter) != 1 or delimiter in "\"\r\n"):
                self.problem(f"{w}.delimiter", f"must be one character such as \",\" \";\" \"|\" or \"\\t\", got {delimiter!r}")
            if not (name and mapping and path):
                return None
            return SourceSettings(name, "csv", mapping, path=path, encoding=encoding, delimiter=delimiter)
        url = self.get(t, w, "url", str, required=True)
        if url and not url.lower().startswith(("ldap://", "ldaps://")):
            self.problem(f"{w}.url", f"must start with ldap:// or ldaps://, got {url!r}")
        bind_dn = self.get(t, w, "bind_dn", str)
        password = self.secret(t, w, "bind_password", required=bool(bind_dn))
        base_dn = self.get(t, w, "base_dn", str, required=True)
        flt = self.get(t, w, "filter", str, "(objectClass=*)")
        if flt and not (flt.strip().startswith("(") and flt.strip().endswith(")")):
            self.problem(f"{w}.filter", f"must be an LDAP filter in parentheses, got {flt!r}")
        scope = self.get(t, w, "scope", str, "subtree")
        if scope not in ("subtree", "one"):
            self.problem(f"{w}.scope", f"must be \"subtree\" or \"one\", got {scope!r}")
        page_size = self.positive(t, w, "page_size", int, 500)
        ca_file = self.local_path(self.get(t, w, "ca_file", str))
        if ca_file is not None and not ca_file.is_file():
            self.problem(f"{w}.ca_file", f"CA file {ca_file} does not exist")
        start_tls = self.get(t, w, "start_tls", bool, False)
        verify = self.get(t, w, "verify_tls", bool, True)
        timeout = self.positive(t, w, "timeout", float, 30.0)
        if not (name and mapping and url and base_dn):
            return None
        return SourceSettings(name, "ldap", mapping, url=url, bind_dn=bind_dn,
                              bind_password=password, base_dn=base_dn, filter=flt, scope=scope,
                              page_size=page_size, ca_file=ca_file, start_tls=start_tls,
                              verify_tls=verify, timeout=timeout)

    def safety(self, raw: dict) -> SafetySettings:
        w = "safety"
        t = self.table(raw, w, {"max_disable", "on_missing"}, w)
        max_disable = SafetySettings.max_disable
        if "max_disable" in t:
            try:
                max_disable = MaxDisable.parse(t["max_disable"])
            except ValueError as exc:
                self.problem(f"{w}.max_disable", str(exc))
        on_missing = self.get(t, w, "on_missing", str, "disable")
        if on_missing not in ("disable", "keep"):
            self.problem(f"{w}.on_missing", f"must be \"disable\" or \"keep\", got {on_missing!r}")
            on_missing = "disable"
        return SafetySettings(max_disable, on_missing)

    def schedule(self, raw: dict) -> ScheduleSettings:
        w = "schedule"
        t = self.table(raw, w, {"cron", "timezone"}, w)
        cron = self.get(t, w, "cron", str)
        tz = self.get(t, w, "timezone", str, "UTC")
        try:
            from zoneinfo import ZoneInfo

            ZoneInfo(tz)
        except Exception:
            self.problem(f"{w}.timezone", f"unknown time zone {tz!r} (e.g. \"Europe/Paris\")")
            tz = "UTC"
        if cron is not None:
            try:
                from apscheduler.triggers.cron import CronTrigger

                CronTrigger.from_crontab(cron, timezone=tz)
            except Exception as exc:
                self.problem(f"{w}.cron", f"not a valid five-field cron expression ({exc})")
        return ScheduleSettings(cron, tz)


def _is_ip(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _unknown_key_text(unknown: str, allowed: set[str]) -> str:
    close = difflib.get_close_matches(unknown, sorted(allowed), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown key{hint} (known: {', '.join(sorted(allowed))})"


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
    return SettingsReader(path).settings(raw)
