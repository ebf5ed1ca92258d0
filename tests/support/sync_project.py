"""A chamilo-sync project folder wired to the Chamilo stand-in, and ways to run the CLI on it.

* ``run``: ``python -m sync`` in a subprocess, as an administrator would;
* ``start``: the same in the background (to watch it, or ``kill -9`` it);
* ``run_forked``: a forked copy of the test process (no start-up cost), for runs a failpoint
  kills;
* ``in_process``: the CLI entry point in the test process, for checks that need no process
  of their own.
"""

from __future__ import annotations

import logging
from pathlib import Path

from click.testing import CliRunner

from tests.support.cli import Completed, run_cli, write_project
from tests.support.cli_process import CliProcess, fork_cli, start_cli
from tests.support.convergence import csv_of

SAFETY = '[safety]\nmax_disable = "100%"\n'


class Project:
    def __init__(self, folder: Path, chamilo, *, url: str | None = None, **chamilo_settings) -> None:
        self.folder, self.chamilo = folder, chamilo
        self.settings = {"url": url or chamilo.url, "client_ip": chamilo.client_ip,
                         "batch_size": 3, "concurrency": 2, "timeout": 20, **chamilo_settings}
        self.env = {"TEST_CHAMILO_KEY": chamilo.security_key}

    @property
    def config(self) -> str:
        return str(self.folder / "chamilo-sync.toml")

    @property
    def state_db(self) -> Path:
        return self.folder / "state.db"

    def write(self, people, *, extra: str = SAFETY, **kwargs) -> Project:
        write_project(self.folder, csv_of(people), chamilo=self.settings, extra=extra, **kwargs)
        return self

    def run(self, *args: str, env: dict | None = None) -> Completed:
        return run_cli("--config", self.config, *args, env={**self.env, **(env or {})})

    def start(self, *args: str, env: dict | None = None, to_files: bool = False) -> CliProcess:
        return start_cli("--config", self.config, *args, env={**self.env, **(env or {})},
                         output_dir=self.folder if to_files else None)

    def run_forked(self, *args: str, failpoint: str) -> Completed:
        env = dict(self.env, CHAMILO_SYNC_FAILPOINT=failpoint)
        return fork_cli("--config", self.config, *args, env=env, output_dir=self.folder)

    def in_process(self, *args: str) -> Completed:
        from sync.cli import main

        result = CliRunner().invoke(main, ["--config", self.config, *args], env=self.env)
        root = logging.getLogger()
        for handler in [h for h in root.handlers if getattr(h, "_chamilo_sync", False)]:
            root.removeHandler(handler)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError("an exception escaped the CLI") from result.exception
        return Completed(result.exit_code, result.stdout, result.stderr)

    def assert_no_write_on_next_apply(self) -> None:
        """A further apply (in-process) finds nothing to do and sends no write request."""
        writes = len(self.chamilo.write_calls())
        again = self.in_process("apply")
        assert again.code == 0, again.err + again.out
        assert "No changes" in again.out, again.out
        assert len(self.chamilo.write_calls()) == writes
