"""`chamilo-sync schedule`: runs apply on the cron until a signal, then exits cleanly."""

import os
import signal
import subprocess
import sys
import time

from tests.support.cli import HEADER, REPO, person_row, run_cli, write_project


def finished_runs(folder) -> int:
    import sqlite3

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
    env = dict(os.environ, TEST_CHAMILO_KEY=chamilo.security_key, PYTHONPATH=str(REPO))
    env.pop("CHAMILO_SYNC_CONFIG", None)
    proc = subprocess.Popen([sys.executable, "-m", "sync", "--config", str(cfg), "schedule",
                             "--run-now"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(chamilo.users()) < 2:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.2)
        assert len(chamilo.users()) == 2
        while time.monotonic() < deadline and not finished_runs(tmp_path):
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "scheduled: apply at '0 3 * * *' (Europe/Paris)" in err
    history = run_cli("--config", str(cfg), "history", "--format", "json")
    import json
    runs = json.loads(history.out)
    assert runs[0]["mode"] == "apply" and runs[0]["exit_code"] == 0
