"""Where reports and plans go: files checked before a run, written after it."""

from __future__ import annotations

import os
from pathlib import Path

import click

from sync.errors import RunAborted, UsageError


def check_writable(path: str | None, option: str) -> None:
    """Refuse an output path that cannot be written before anything runs (exit 2)."""
    if not path:
        return
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise UsageError(f"{option} {path}: is a folder, not a file")
    if not folder.is_dir():
        raise UsageError(f"{option} {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise UsageError(f"{option} {path}: cannot be written (permission denied)")


def emit(text: str, output: str | None) -> None:
    if output:
        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--output {output}: cannot be written: {exc.strerror}") from None
    else:
        click.echo(text, nl=False)


def report_writer(path: str | None):
    from sync.report_formats import format_for_path, render

    def write(result) -> None:
        if path:
            try:
                Path(path).write_text(render(result, format_for_path(path)), encoding="utf-8")
            except OSError as exc:
                raise RunAborted(f"the run finished but its report {path} could not be "
                                 f"written: {exc.strerror}") from None

    return write
