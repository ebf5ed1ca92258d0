"""The ``chamilo-sync`` command as a background process a test can watch and ``kill -9``.

``start_cli`` mirrors ``tests.support.cli.run_cli`` (same environment) but returns at once;
``wait_until`` is the only way these tests wait: bounded polling of a condition, failing the
test with ``what`` when the deadline passes (a safety net, never an assertion on time).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from tests.support.cli import REPO, Completed

T = TypeVar("T")
PRELOAD = ("sync.bootstrap", "sync.config", "sync.runner", "sync.maintenance", "sync.logs",
           "sync.progress", "sync.report_formats", "sync.sources.csv_source",
           "sync.state.sql_store", "sync.state.memory_store", "sync.chamilo.soap_client")


def cli_env(env: dict | None = None) -> dict:
    full = {k: v for k, v in os.environ.items()
            if k not in ("CHAMILO_SYNC_CONFIG", "CHAMILO_SYNC_FAILPOINT")}
    full["PYTHONPATH"] = str(REPO) + os.pathsep + full.get("PYTHONPATH", "")
    full.update(env or {})
    return full


class CliProcess:
    """``output_dir``: stdout and stderr go to files there (``err_so_far`` can then be read
    while the process runs) instead of pipes."""

    def __init__(self, args: tuple[str, ...], env: dict | None, cwd: Path | None,
                 output_dir: Path | None = None) -> None:
        self._files = None
        if output_dir is None:
            self.proc = self._popen(args, env, cwd, subprocess.PIPE, subprocess.PIPE)
            return
        self._files = (output_dir / f"cli-{id(self)}.out", output_dir / f"cli-{id(self)}.err")
        with open(self._files[0], "w") as out, open(self._files[1], "w") as err:
            self.proc = self._popen(args, env, cwd, out, err)

    @staticmethod
    def _popen(args, env, cwd, out, err) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "sync", *args], cwd=cwd,
                                env=cli_env(env), stdout=out, stderr=err, text=True)

    def err_so_far(self) -> str:
        return self._files[1].read_text(errors="replace") if self._files else ""

    def terminate(self) -> Completed:
        if self.running():
            self.proc.send_signal(signal.SIGTERM)
        return self.wait()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def running(self) -> bool:
        return self.proc.poll() is None

    def kill9(self) -> Completed:
        """SIGKILL the process (no handler, no ``finally``) and collect what it printed."""
        if self.running():
            os.kill(self.proc.pid, signal.SIGKILL)
        return self.wait()

    def wait(self, timeout: float = 120) -> Completed:
        out, err = self.proc.communicate(timeout=timeout)
        if self._files is not None:
            out, err = (path.read_text(errors="replace") for path in self._files)
        return Completed(self.proc.returncode, out, err)


def start_cli(*args: str, env: dict | None = None, cwd: Path | None = None,
              output_dir: Path | None = None) -> CliProcess:
    return CliProcess(args, env, cwd, output_dir)


def wait_until(condition: Callable[[], T], what: str, timeout: float = 30,
               interval: float = 0.02) -> T:
    """Poll ``condition`` until it returns something truthy; return it."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout}s waiting for {what}")
        time.sleep(interval)


def fork_cli(*args: str, env: dict, output_dir: Path) -> Completed:
    """Run the CLI in a forked copy of this (test) process and wait for it: the same code as
    ``python -m sync``, without paying for interpreter start-up and imports. Made for runs
    that a failpoint kills; ``code`` is ``-9`` when the child died of SIGKILL."""
    for module in PRELOAD:  # imported once here, not in every child
        importlib.import_module(module)

    out_path, err_path = output_dir / "forked.out", output_dir / "forked.err"
    pid = os.fork()
    if pid == 0:  # the child: never return into the test runner
        code = 70
        try:
            os.environ.update(env)
            for fd, path in ((1, out_path), (2, err_path)):
                os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), fd)
            sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115 - the child's stdout
            sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115 - the child's stderr
            from sync.cli import main

            try:
                main.main(list(args), prog_name="chamilo-sync")
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
        finally:
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(Exception):  # the child must reach os._exit
                    stream.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
    return Completed(code, out_path.read_text(errors="replace"), err_path.read_text(errors="replace"))
