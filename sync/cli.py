"""The command line (SPEC §4): parse, call one function, render, exit.

Errors become words and exit codes in exactly one place: ``_fail``.
"""

from __future__ import annotations

import functools
import logging
import sys
from pathlib import Path

import click

from sync.errors import SyncError
from sync.outputs import check_writable, emit, report_writer

log = logging.getLogger("sync")

EPILOG = """\b
Examples:
  chamilo-sync --config /etc/chamilo-sync.toml plan
  chamilo-sync plan --format json --output plan.json
  chamilo-sync apply --report /var/log/chamilo-sync/last.json
  chamilo-sync import newcomers.csv --mapping mappings/people.toml --dry-run

Exit codes: 0 ok, 1 finished with rejected rows or failed users, 2 nothing attempted
(usage, config, unreadable source, Chamilo unreachable or key refused), 3 a safety guard
refused the run."""


def _fail(exc: BaseException) -> int:
    """The one place that turns an error into a message and an exit code."""
    from sync.logs import error_line, log_format, mask

    def say(message: str, hint: str = "") -> None:
        if log_format() == "json":
            click.echo(error_line(message, hint), err=True)
            return
        lines = [f"error: {line}" for line in message.splitlines()] or ["error"]
        if hint:
            lines.append(f"hint: {hint}")
        click.echo(mask("\n".join(lines)), err=True)

    if isinstance(exc, SyncError):
        say(str(exc), exc.hint)
        return exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        say("interrupted")
        return 1
    log.debug("internal error", exc_info=exc)
    say(f"internal error: {type(exc).__name__}: {exc} (run with -v for details; please "
        "report it)")
    return 1


def _command(fn):
    """Run the command body; map errors and results to exit codes."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            code = fn(*args, **kwargs)
        except click.exceptions.Exit:
            raise
        except click.ClickException:
            raise
        except BaseException as exc:  # noqa: BLE001 - this is the error boundary
            if isinstance(exc, SystemExit):
                raise
            code = _fail(exc)
        sys.exit(code or 0)

    return wrapper


class Ctx:
    def __init__(self, config: str | None) -> None:
        self.config = config
        self._app = None

    def app(self):
        if self._app is None:
            from sync.bootstrap import App
            from sync.config import locate_config
            from sync.config_reader import load_settings
            from sync.logs import register_secret

            settings = load_settings(locate_config(self.config))
            self._app = App(settings)
            for ref in _secret_refs(settings):
                try:
                    register_secret(ref.reveal())
                except SyncError:
                    pass
        return self._app


def _secret_refs(settings):
    refs = [s.bind_password for s in settings.sources if s.bind_password]
    if settings.chamilo is not None:
        refs.append(settings.chamilo.security_key)
    return refs


@click.group(epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config", metavar="PATH", envvar=None,
              help="Configuration file (default: $CHAMILO_SYNC_CONFIG, else ./chamilo-sync.toml).")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]),
              default="info", show_default=True)
@click.option("-v", "verbose", is_flag=True, help="Short for --log-level debug.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.version_option(package_name="chamilo-sync")
@click.pass_context
def main(ctx: click.Context, config, log_level, verbose, log_format) -> None:
    """Keep Chamilo LMS users in step with CSV exports and LDAP directories."""
    from sync.logs import setup_logging

    setup_logging("debug" if verbose else log_level, log_format)
    ctx.obj = Ctx(config)


def _source_option(fn):
    return click.option("--source", "sources", multiple=True, metavar="NAME",
                        help="Only this source (repeatable); only its users can be disabled.")(fn)


@main.command()
@click.pass_obj
@_command
def check(obj: Ctx) -> int:
    """Validate config and mappings, read the sources (LDAP: bind and count), prove the key."""
    from sync.maintenance import run_check

    return run_check(obj.app(), click.echo)


@main.command()
@_source_option
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv", "html"]), default="text",
              show_default=True)
@click.option("--output", metavar="FILE", help="Write the plan here instead of stdout.")
@click.pass_obj
@_command
def plan(obj: Ctx, sources, fmt, output) -> int:
    """Dry run: read the sources, diff with the state store, print the plan. Changes nothing."""
    from sync.report_formats import render
    from sync.runner import run_plan

    check_writable(output, "--output")
    result = run_plan(obj.app(), sources)
    emit(render(result, fmt), output)
    return result.exit_code()


def _stop_on_signal(executor) -> None:
    """SIGTERM/SIGINT during apply: let the batches in flight finish and be recorded, send no
    more, report (exit 1). A second signal ends the process at once (the journal covers it)."""
    import signal

    def stop(signum, frame) -> None:
        log.warning("signal %d: finishing the batches in flight, sending no more "
                    "(signal again to stop at once)", signum)
        executor.stopping = True
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


def _progress():
    from sync.progress import Progress

    return Progress(sys.stderr)


@main.command()
@_source_option
@click.option("--max-disable", metavar="N|P%", help="Allow up to N disables (or P% of active managed users) this run.")
@click.option("--force", is_flag=True, help="Skip the max_disable guard for this run.")
@click.option("--report", "report", metavar="FILE", help="Write the run report (.json, .csv, .html).")
@click.pass_obj
@_command
def apply(obj: Ctx, sources, max_disable, force, report) -> int:
    """The run: plan, guards, then batched calls to Chamilo; outcomes recorded per batch."""
    from sync.guards import MaxDisable
    from sync.errors import UsageError
    from sync.report_formats import render_text
    from sync.runner import run_apply

    limit = None
    if max_disable is not None:
        try:
            limit = MaxDisable.parse(max_disable)
        except ValueError as exc:
            raise UsageError(f"--max-disable: {exc}") from None
    check_writable(report, "--report")
    write = report_writer(report)
    result = run_apply(obj.app(), sources, max_disable=limit, force=force, on_refused=write,
                       on_batch=_progress(), executor_hook=_stop_on_signal)
    write(result)
    click.echo(render_text(result), nl=False)
    return result.exit_code()


@main.command(name="import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--mapping", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Show what would be done; change nothing.")
@click.option("--report", "report", metavar="FILE", help="Write the run report (.json, .csv, .html).")
@click.pass_obj
@_command
def import_(obj: Ctx, file, mapping, dry_run, report) -> int:
    """One-off import of FILE.csv: create, update, enable; never disables anyone."""
    from sync.report_formats import render_text
    from sync.runner import run_import

    check_writable(report, "--report")
    result = run_import(obj.app(), file, mapping, dry_run=dry_run, on_batch=_progress())
    report_writer(report)(result)
    click.echo(render_text(result), nl=False)
    return result.exit_code()


@main.command()
@_source_option
@click.pass_obj
@_command
def adopt(obj: Ctx, sources) -> int:
    """Record Chamilo accounts that already hold desired keys, so apply edits them."""
    from sync.maintenance import run_adopt
    from sync.report_formats import render_text

    result = run_adopt(obj.app(), sources)
    click.echo(render_text(result), nl=False)
    return result.exit_code()


@main.command()
@click.option("--run-now", is_flag=True, help="Also run once right away, then follow the cron.")
@click.pass_obj
@_command
def schedule(obj: Ctx, run_now) -> int:
    """Run apply on [schedule].cron until SIGINT/SIGTERM; never two runs at once."""
    from sync.scheduler import run_schedule

    return run_schedule(obj.app(), run_now=run_now)


@main.command()
@click.option("--limit", default=20, show_default=True, type=click.IntRange(min=1))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_obj
@_command
def history(obj: Ctx, limit, fmt) -> int:
    """Past runs with counts and outcome."""
    import json

    runs = obj.app().read_only_store().history(limit)
    if fmt == "json":
        click.echo(json.dumps([{
            "run_id": r.run_id, "mode": r.mode,
            "started_at": r.started_at.isoformat() if r.started_at else None,
            "finished_at": r.finished_at.isoformat() if r.finished_at else None,
            "counts": dict(r.counts), "exit_code": r.exit_code} for r in runs], indent=2))
        return 0
    if not runs:
        click.echo("no runs recorded yet")
    for r in runs:
        counts = ", ".join(f"{k} {v}" for k, v in r.counts.items() if v)
        status = "running or killed" if r.exit_code is None else f"exit {r.exit_code}"
        click.echo(f"#{r.run_id} {r.mode:<7} {r.started_at:%Y-%m-%d %H:%M:%S} {status:<18} {counts}")
    return 0
