"""SIGTERM during `apply`: the batch in flight finishes and is recorded, nothing more is sent."""

from tests.support.cli import HEADER, person_row, run_cli, write_project
from tests.support.cli_process import start_cli, wait_until
from tests.support.convergence import state_users


def test_sigterm_lets_the_batch_in_flight_finish_then_stops_with_exit_1(tmp_path, chamilo):
    rows = "".join(person_row(f"S{i:03d}", "Sig", f"Term{i}") for i in range(9))
    cfg = write_project(tmp_path, HEADER + rows,
                        chamilo={"url": chamilo.url, "client_ip": chamilo.client_ip,
                                 "batch_size": 3, "concurrency": 1, "timeout": 30})
    chamilo.inject("WSCreateUsers", "hang", times=1, seconds=3)  # holds the first batch
    env = {"TEST_CHAMILO_KEY": chamilo.security_key}
    proc = start_cli("--config", str(cfg), "apply", env=env)
    try:
        wait_until(lambda: chamilo.calls("WSCreateUsers"), "the first create batch")
        done = proc.terminate()
    finally:
        proc.kill9()
    assert done.code == 1, done.err
    assert "Stopped by a signal: 6 planned changes were not sent" in done.out
    assert len(chamilo.calls("WSCreateUsers")) == 1
    assert len(chamilo.users()) == 3
    assert set(state_users(tmp_path / "state.db")) == {"S000", "S001", "S002"}
    again = run_cli("--config", str(cfg), "apply", env=env)
    assert again.code == 0, again.err
    assert len(chamilo.users()) == 9
