"""`chamilo-sync schedule`: runs apply on the cron until a signal, then exits cleanly."""

import json
import sqlite3

from tests.support.cli import HEADER, person_row, run_cli, write_project
from tests.support.cli_process import start_cli, wait_until


def finished_runs(folder) -> int:
    if not (folder / "state.db").exists():
        return 0
    db = sqlite3.connect(folder / "state.db")
    try:
        return db.execute("select count(*) from runs where finished_at is not null").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        db.close()


def test_schedule_without_a_cron_is_a_config_error(tmp_path):
    cfg = write_project(tmp_path, HEADER + person_row("00017"))
    result = run_cli("--config", str(cfg), "schedule", env={"TEST_CHAMILO_KEY": "k"})
    assert result.code == 2 and "schedule.cron" in result.err


def test_schedule_runs_apply_and_stops_on_sigterm(tmp_path, chamilo):
    cfg = write_project(tmp_path, HEADER + person_row("00017") + person_row("00018"),
                        chamilo={"url": chamilo.url, "client_ip": chamilo.client_ip},
                        extra='[schedule]\ncron = "0 3 * * *"\ntimezone = "Europe/Paris"\n')
    env = {"TEST_CHAMILO_KEY": chamilo.security_key}
    proc = start_cli("--config", str(cfg), "schedule", "--run-now", env=env)
    try:
        wait_until(lambda: finished_runs(tmp_path), "the first scheduled run", timeout=60)
        done = proc.terminate()
    finally:
        proc.kill9()
    assert done.code == 0, done.err
    assert "scheduled: apply at '0 3 * * *' (Europe/Paris)" in done.err
    assert len(chamilo.users()) == 2
    runs = json.loads(run_cli("--config", str(cfg), "history", "--format", "json").out)
    assert runs[0]["mode"] == "apply" and runs[0]["exit_code"] == 0
