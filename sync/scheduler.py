"""``chamilo-sync schedule``: run apply on [schedule].cron until SIGINT/SIGTERM.

APScheduler's blocking scheduler with one job, ``max_instances = 1`` and ``coalesce``: runs
never overlap, and missed runs collapse into one. ``--run-now`` also runs once at start. A signal stops the scheduler; a run in
progress finishes the batches in flight, sends no more, records them and ends.
"""

from __future__ import annotations

import logging
import signal

from sync.errors import ConfigError, SyncError

log = logging.getLogger(__name__)


def run_schedule(app, run_now: bool = False) -> int:
    from apscheduler.schedulers.blocking import BlockingScheduler
    from apscheduler.triggers.cron import CronTrigger

    from sync.runner import run_apply

    sched = app.settings.schedule
    if not sched.cron:
        raise ConfigError([f"{app.settings.path}: schedule.cron: is required for the schedule "
                           "command (e.g. cron = \"0 2 * * *\")"])
    scheduler = BlockingScheduler(timezone=sched.timezone)
    running: list = []

    def job() -> None:
        try:
            result = run_apply(app, (), executor_hook=running.append)
            log.info("scheduled run finished with exit code %d", result.exit_code())
        except SyncError as exc:
            log.error("scheduled run stopped (exit %d): %s", exc.exit_code, exc)
        except Exception:  # a nightly job must survive and try again tomorrow
            log.exception("scheduled run failed")
        finally:
            running.clear()

    def stop(signum, frame) -> None:
        log.info("signal %d: stopping after the batches in flight", signum)
        for executor in running:
            executor.stopping = True
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    extra = {}
    if run_now:
        from datetime import datetime, timezone

        extra["next_run_time"] = datetime.now(timezone.utc)
    scheduler.add_job(job, CronTrigger.from_crontab(sched.cron, timezone=sched.timezone),
                      id="apply", max_instances=1, coalesce=True, misfire_grace_time=3600,
                      **extra)
    log.info("scheduled: apply at '%s' (%s)", sched.cron, sched.timezone)
    scheduler.start()
    return 0
