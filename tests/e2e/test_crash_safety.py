"""Crash safety (SPEC §7): `kill -9` of `apply` at any moment loses nothing.

Every test kills an `apply` that has enables, updates, creates and disables to send (two
batches of each with batch_size 3), then runs a new `apply` and checks that Chamilo converged
(``tests.support.convergence``: no duplicate account, every desired user present with the
desired values, every removed one disabled, the state store in agreement and its journal
empty), and that a further `apply` sends no write request at all.

Deterministic kill points come from ``CHAMILO_SYNC_FAILPOINT=<point>:<n>`` (``sync.failpoints``):
the n-th batch reaching ``before-batch`` (journal written, nothing sent), ``after-answer``
(Chamilo answered, nothing recorded) or ``after-record``. With the plan below, batches 1-2 are
enables, 3-4 updates, 5-6 creates and 7-8 disables. Real external SIGKILLs cover a request
still on the wire (the stand-in's ``hang`` fault), a lost answer (``apply_then_500``) and a
run killed before its first batch (the lock it leaves behind is taken over).

The starting point (14 accounts created, 4 of them disabled since) is built once by two real
runs and restored before each test (``tests.support.standin_snapshot``).
"""

from __future__ import annotations

import json
import socket

import pytest

from tests.support.cli_process import wait_until
from tests.support.convergence import Person, assert_converged, lock_row, open_journal
from tests.support.standin_snapshot import take_snapshot
from tests.support.sync_project import Project

E = [Person(f"E{i}") for i in range(1, 5)]  # disabled at the start, back in the target
U = [Person(f"U{i}") for i in range(1, 5)]  # edited in the target
X = [Person(f"X{i}") for i in range(1, 5)]  # removed from the target
K = [Person(f"K{i}") for i in range(1, 3)]  # never change
N = [Person(f"N{i}") for i in range(1, 6)]  # new in the target

BASELINE = E + U + X + K
TARGET = ([E[0].but(dept="Arts")] + E[1:]
          + [U[0].but(email="u1.new@school.example"), U[1].but(role="teacher"),
             U[2].but(first="Uma"), U[3].but(last="Stone")]
          + K + N)
REMOVED = [x.key for x in X]
BATCHES = {1: "enable", 2: "enable", 3: "update", 4: "update",
           5: "create", 6: "create", 7: "disable", 8: "disable"}


@pytest.fixture(scope="module")
def baseline(chamilo_server, tmp_path_factory):
    """14 accounts created by a first apply, E1-E4 disabled by a second; saved once."""
    folder = tmp_path_factory.mktemp("crash-baseline")
    chamilo_server.reset()
    project = Project(folder, chamilo_server)
    project.write(BASELINE)
    first = project.run("apply")
    assert first.code == 0, first.err
    project.write([e.but(state="left") for e in E] + U + X + K)
    second = project.run("apply")
    assert second.code == 0, second.err
    assert sum(not a["active"] for a in chamilo_server.users()) == 4
    return take_snapshot(chamilo_server, project.state_db, folder)


def start_from_baseline(baseline, chamilo, tmp_path, concurrency: int = 2) -> Project:
    project = Project(tmp_path, chamilo, concurrency=concurrency)
    baseline.restore(chamilo, project.state_db)
    project.write(TARGET)
    return project


def assert_recovers(project: Project, *, in_process: bool = False) -> None:
    """A new apply (a new process, unless ``in_process``) converges with exit 0; a further
    apply sends no write request."""
    result = project.in_process("apply") if in_process else project.run("apply")
    assert result.code == 0, result.err[-3000:] + result.out
    assert_converged(project.chamilo, TARGET, removed=REMOVED, state_db=project.state_db)
    project.assert_no_write_on_next_apply()


def killed(result) -> bool:
    return result.code == -9


CASES = ([pytest.param(point, n, 2, id=f"{point}-{n}-{BATCHES[n]}-c2")
          for point in ("before-batch", "after-answer", "after-record") for n in BATCHES]
         + [pytest.param(point, n, 1, id=f"{point}-{n}-{BATCHES[n]}-c1")
            for point in ("before-batch", "after-answer", "after-record") for n in (2, 6)])


@pytest.mark.parametrize("point, n, concurrency", CASES)
def test_a_run_killed_at_a_failpoint_is_completed_by_the_next_run_without_duplicates(
        baseline, chamilo, tmp_path, point, n, concurrency):
    project = start_from_baseline(baseline, chamilo, tmp_path, concurrency)
    result = project.run_forked("apply", failpoint=f"{point}:{n}")
    assert killed(result), f"the failpoint was not reached: {result.code}\n{result.err[-2000:]}"
    journal = open_journal(project.state_db)
    if point != "after-record":  # the batch being sent or answered is still journaled
        assert BATCHES[n] in [action for action, _ in journal]
    assert_recovers(project, in_process=True)


def test_a_create_killed_on_the_wire_is_adopted_not_created_twice(baseline, chamilo, tmp_path):
    project = start_from_baseline(baseline, chamilo, tmp_path)
    chamilo.inject("WSCreateUsers", "hang", times=1, seconds=1.5)
    run = project.start("apply")
    hung = wait_until(lambda: [c for c in chamilo.calls("WSCreateUsers") if c["injected"] == "hang"],
                      "the create batch to be held by the stand-in")[0]
    assert killed(run.kill9())
    keys = [k for k in (p.key for p in N) if f">{k}<" in hung["body"]]
    assert keys, "the held batch names none of the new keys"
    # Chamilo finishes the request the killed client no longer waits for.
    wait_until(lambda: all(chamilo.user_by_key(k) for k in keys), "the held create to land")
    creates_before = len(chamilo.calls("WSCreateUsers"))
    assert_recovers(project)
    resent = [c for c in chamilo.calls("WSCreateUsers")[creates_before:]
              if any(f">{k}<" in c["body"] for k in keys)]
    assert resent == [], "a create that had landed was sent again instead of being adopted"


def test_an_edit_still_held_on_the_wire_when_the_next_run_starts_is_not_lost(
        baseline, chamilo, tmp_path):
    project = start_from_baseline(baseline, chamilo, tmp_path)
    chamilo.inject("WSEditUsers", "hang", times=1, seconds=2)
    run = project.start("apply")
    wait_until(lambda: [c for c in chamilo.calls("WSEditUsers") if c["injected"] == "hang"],
               "the edit batch to be held by the stand-in")
    assert killed(run.kill9())
    assert_recovers(project)  # runs while the old request is still held
    # the held request ends with the same values: nothing changes once it has landed
    wait_until(lambda: all(c["items"] for c in chamilo.calls("WSEditUsers")),
               "the held edit to finish")
    assert_converged(chamilo, TARGET, removed=REMOVED, state_db=project.state_db)


def test_a_lost_create_answer_then_a_kill_is_settled_from_the_journal(baseline, chamilo, tmp_path):
    project = start_from_baseline(baseline, chamilo, tmp_path, concurrency=1)
    chamilo.inject("WSCreateUsers", "apply_then_500", times=1)
    result = project.run_forked("apply", failpoint="after-answer:5")
    assert killed(result)
    assert "create" in [action for action, _ in open_journal(project.state_db)]
    assert len(chamilo.calls("WSCreateUsers")) == 1
    assert_recovers(project)
    assert len(chamilo.calls("WSCreateUsers")) == 2  # the second batch only, never the first


def test_a_run_killed_before_its_first_batch_leaves_a_lock_the_next_run_takes_over(
        baseline, chamilo, tmp_path):
    project = start_from_baseline(baseline, chamilo, tmp_path)
    chamilo.inject("WSGetUser", "hang", times=1, seconds=3)  # the key check before any batch
    run = project.start("apply")
    wait_until(lambda: chamilo.calls("WSGetUser"), "the key check to reach Chamilo")
    assert killed(run.kill9())
    assert lock_row(project.state_db)[:2] == (socket.gethostname(), run.pid)  # left behind
    history = json.loads(project.in_process("history", "--format", "json").out)
    assert history[0]["exit_code"] is None  # the killed run never finished
    result = project.run("apply")
    assert result.code == 0, result.err
    assert "took over the lock of host" in result.err and f"pid {run.pid}" in result.err
    assert_converged(chamilo, TARGET, removed=REMOVED, state_db=project.state_db)
    wait_until(lambda: chamilo.calls("WSGetUser")[0]["items"] is not None,
               "the held key check to end (it must not outlive the test)")


def test_accounts_created_by_a_killed_run_and_then_removed_from_the_source_are_disabled(
        baseline, chamilo, tmp_path):
    project = start_from_baseline(baseline, chamilo, tmp_path, concurrency=1)
    result = project.run_forked("apply", failpoint="after-answer:5")  # first create batch answered
    assert killed(result)
    created = [p.key for p in N if chamilo.user_by_key(p.key)]
    assert len(created) == 3
    gone = created[:2]
    target = [p for p in TARGET if p.key not in gone]
    project.write(target)
    again = project.run("apply")
    assert again.code == 0, again.err
    assert_converged(chamilo, target, removed=REMOVED + gone, state_db=project.state_db)
