"""The composition root: the one place that turns settings into sources, a state store and a
Chamilo client. Nothing else names a concrete adapter class."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from sync.config import Settings, SourceSettings
from sync.errors import ConfigError, UsageError
from sync.mapping_file import load_mapping
from sync.mapping_spec import MappingSpec
from sync.ports import ChamiloClient, Source, StateStore
from sync.runner import SourceBinding


class App:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._store: StateStore | None = None
        self._client: ChamiloClient | None = None

    # -- sources -------------------------------------------------------------------------------
    def bindings(self, names: Sequence[str] = ()) -> list[SourceBinding]:
        """The configured sources (all, or those named by ``--source``), in precedence order.
        Every mapping problem of every source is reported together."""
        configured = self.settings.sources
        if not configured:
            raise ConfigError([f"{self.settings.path}: source: no [[source]] is configured"])
        unknown = [n for n in names if n not in self.settings.source_names()]
        if unknown:
            raise UsageError(f"unknown source {', '.join(map(repr, unknown))}; configured: "
                             f"{', '.join(self.settings.source_names())}")
        chosen = [s for s in configured if not names or s.name in names]
        specs, problems = [], []
        for src in chosen:
            try:
                specs.append(load_mapping(src.mapping))
            except ConfigError as exc:
                problems += exc.problems
        if problems:
            raise ConfigError(problems)
        return [SourceBinding(s.name, s.type, spec, self._source(s, spec))
                for s, spec in zip(chosen, specs)]

    def import_binding(self, csv_path: Path, mapping_path: Path) -> SourceBinding:
        from sync.sources.csv_source import CsvSource

        spec = load_mapping(mapping_path)
        return SourceBinding("import", "csv", spec, CsvSource("import", csv_path))

    def _source(self, s: SourceSettings, spec: MappingSpec) -> Source:
        if s.type == "csv":
            from sync.sources.csv_source import CsvSource

            return CsvSource(s.name, s.path, encoding=s.encoding, delimiter=s.delimiter)

        return _LazyLdap(s, spec)

    # -- state store ---------------------------------------------------------------------------
    def store(self) -> StateStore:
        if self._store is None:
            from sync.state.sql_store import SqlStateStore

            self._store = SqlStateStore(self.settings.state_url)
        return self._store

    def read_only_store(self) -> StateStore:
        """For ``plan``: a store that does not exist yet is read as empty and not created."""
        url = self.settings.state_url
        if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).exists():
            from sync.state.memory_store import MemoryStateStore

            return MemoryStateStore()
        return self.store()

    # -- Chamilo ---------------------------------------------------------------------------------
    def chamilo(self) -> ChamiloClient:
        if self._client is None:
            c = self.settings.chamilo
            if c is None:
                raise ConfigError([f"{self.settings.path}: chamilo: the [chamilo] section is "
                                   "required for this command"])
            from sync.chamilo.soap_client import SoapChamiloClient

            self._client = SoapChamiloClient(
                c.url, c.security_key.reveal(), c.client_ip, c.original_user_id_name,
                timeout=c.timeout, verify_tls=c.verify_tls, retries=c.retries,
                max_retry_seconds=c.max_retry_seconds,
            )
        return self._client

    def lock_holder(self):
        """Who this process is, for the state store's lock."""
        import socket
        from datetime import datetime, timezone

        from sync.state.lock import LockHolder

        return LockHolder(socket.gethostname(), os.getpid(), datetime.now(timezone.utc))

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


class _LazyLdap:
    """Builds the LDAP adapter when read, so the bind password is only revealed when needed."""

    def __init__(self, s: SourceSettings, spec: MappingSpec) -> None:
        self.name = s.name
        self._s = s
        self._spec = spec

    def _adapter(self):
        from sync.sources.ldap_source import LdapSource

        s = self._s
        return LdapSource(
            s.name, s.url, s.base_dn, bind_dn=s.bind_dn,
            bind_password=s.bind_password.reveal() if s.bind_password else None,
            filter=s.filter, scope=s.scope, page_size=s.page_size,
            ca_file=str(s.ca_file) if s.ca_file else None, verify_tls=s.verify_tls,
            start_tls=s.start_tls, attributes=sorted(self._spec.columns()), timeout=s.timeout,
        )

    def read(self):
        return self._adapter().read()

    def count(self) -> int:
        return self._adapter().count()
