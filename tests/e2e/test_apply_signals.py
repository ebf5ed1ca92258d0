"""SIGTERM during `apply`: the batch in flight finishes and is recorded, nothing more is sent."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

from tests.support.cli import HEADER, REPO, person_row, run_cli, write_project


def recorded_keys(folder) -> set[str]:
    if not (folder / "state.db").exists():
        return set()
    db = sqlite3.connect(folder / "state.db")
    try:
        return {k for (k,) in db.execute("select key from users")}
    except sqlite3.OperationalError:
        return set()
    finally:
        db.close()


def test_sigterm_lets_the_batch_in_flight_finish_then_stops_with_exit_1(tmp_path, chamilo):
    rows = "".join(person_row(f"S{i:03d}", "Sig", f"Term{i}") for i in range(9))
    cfg = write_project(tmp_path, HEADER + rows,
                        chamilo={"url": chamilo.url, "client_ip": chamilo.client_ip,
                                 "batch_size": 3, "concurrency": 1, "timeout": 30})
    chamilo.inject("WSCreateUsers", "hang", times=1, seconds=3)  # holds the first batch
    env = dict(os.environ, TEST_CHAMILO_KEY=chamilo.security_key, PYTHONPATH=str(REPO))
    env.pop("CHAMILO_SYNC_CONFIG", None)
    proc = subprocess.Popen([sys.executable, "-m", "sync", "--config", str(cfg), "apply"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not chamilo.calls("WSCreateUsers"):
            time.sleep(0.05)
        assert chamilo.calls("WSCreateUsers"), "the first create batch was never sent"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, err
    assert "Stopped by a signal: 6 planned changes were not sent" in out
    assert len(chamilo.calls("WSCreateUsers")) == 1
    assert len(chamilo.users()) == 3 and recorded_keys(tmp_path) == {"S000", "S001", "S002"}
    again = run_cli("--config", str(cfg), "apply", env={"TEST_CHAMILO_KEY": chamilo.security_key})
    assert again.code == 0, again.err
    assert len(chamilo.users()) == 9
