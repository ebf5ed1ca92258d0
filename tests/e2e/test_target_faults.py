"""Chamilo misbehaving (SPEC §7 "Per-user results", §5, §6): HTTP 500, a hang past the
timeout, a dropped connection, a SOAP fault that is not the key fault, a garbage body.

* transient failures are retried with backoff, a bounded number of times;
* an edit batch that keeps failing is split, so one bad user cannot block the others;
* a create whose fate is unknown is looked up (WSGetUser), never sent twice in a run; the
  next run adopts what landed and sends the rest one per call;
* what stays unknown is ``unknown`` in the ``--report`` JSON with exit 1, and the next run
  converges.

Faults chosen by operation come from the stand-in (``chamilo.inject``); faults chosen by user
come from ``tests.support.fault_proxy`` (the stand-in picks faults by operation only). The
client's retry policy is the production one (3 retries, backoff from 0.5 s), so each test
that exhausts it waits a few seconds on purpose.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from tests.support.cli_process import wait_until
from tests.support.convergence import Person, assert_converged, open_journal
from tests.support.fault_proxy import FaultProxy
from tests.support.sync_project import Project


@pytest.fixture
def proxy(chamilo):
    proxy = FaultProxy(chamilo.url).start()
    yield proxy
    proxy.stop()


def report(path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def statuses(path) -> dict[str, str]:
    return {o["key"]: o["status"] for o in report(path)["outcomes"]}


def ops_since(chamilo, first_call: int) -> Counter:
    return Counter(c["operation"] for c in chamilo.calls()[first_call:])


def calls_naming(chamilo, operation: str, key: str) -> int:
    return sum(f">{key}<" in c["body"] for c in chamilo.calls(operation))


def wait_for_held_calls(chamilo) -> None:
    """Wait until every call the stand-in held with ``hang`` has run (so no late write can
    reach the next test's accounts)."""
    wait_until(lambda: all(c["items"] is not None for c in chamilo.calls()
                           if c["injected"] == "hang"), "the held calls to finish")


def test_transient_failures_of_each_call_are_retried_with_backoff_and_the_run_succeeds(
        tmp_path, chamilo):
    people = [Person(f"R{i}") for i in range(1, 6)]
    project = Project(tmp_path, chamilo, timeout=2).write(people)
    assert project.run("apply").code == 0
    project.write([people[0], people[1].but(state="left"), *people[2:]])
    assert project.run("apply").code == 0
    target = [people[0].but(email="r1.new@school.example"), people[1], people[2],
              people[3].but(dept="Arts")]  # R2 back (enable), R5 gone (disable)
    project.write(target)
    first = len(chamilo.calls())
    chamilo.inject("WSEnableUsers", "garbage")
    chamilo.inject("WSEditUsers", "http500")
    chamilo.inject("WSEditUsers", "drop")
    chamilo.inject("WSDisableUsers", "hang", seconds=3)  # past the 2 s timeout
    result = project.run("apply", "--report", str(tmp_path / "r.json"))
    assert result.code == 0, result.err
    ops = ops_since(chamilo, first)
    assert (ops["WSEnableUsers"], ops["WSEditUsers"], ops["WSDisableUsers"]) == (2, 3, 2)
    for operation, retries in (("WSEnableUsers", 1), ("WSEditUsers", 2), ("WSDisableUsers", 1)):
        for n in range(1, retries + 1):
            assert f"{operation} at {chamilo.url} failed" in result.err
            assert f"retry {n}/3 in" in result.err
    assert set(statuses(tmp_path / "r.json").values()) == {"applied"}
    wait_for_held_calls(chamilo)
    assert_converged(chamilo, target, removed=["R5"], state_db=project.state_db)
    project.assert_no_write_on_next_apply()


def test_an_edit_batch_failing_because_of_one_user_is_split_so_the_others_are_applied(
        tmp_path, chamilo, proxy):
    people = [Person(f"S{i}") for i in range(1, 5)]
    project = Project(tmp_path, chamilo, url=proxy.url, batch_size=2, concurrency=1)
    assert project.write(people).run("apply").code == 0
    target = [p.but(dept="Arts") for p in people]
    project.write(target)
    bad = proxy.rule("WSEditUsers", "S3", "http500")  # every edit naming S3 fails
    result = project.run("apply", "--report", str(tmp_path / "r.json"))
    assert result.code == 1, result.err
    outcomes = {o["key"]: o for o in report(tmp_path / "r.json")["outcomes"]}
    assert {k: o["status"] for k, o in outcomes.items()} == {
        "S1": "applied", "S2": "applied", "S3": "unknown", "S4": "applied"}
    assert "HTTP 500" in outcomes["S3"]["message"] and "next run" in outcomes["S3"]["message"]
    # bounded: [S3, S4] tried four times (3 retries with backoff), then [S3] alone four times
    assert bad.hits == 8
    assert result.err.count("giving up after 4 attempt(s)") == 2
    assert chamilo.user_by_key("S4")["extras"]["department"] == "Arts"
    proxy.clear()
    again = project.run("apply")
    assert again.code == 0, again.err
    assert_converged(chamilo, target, state_db=project.state_db)


def test_a_soap_fault_fails_only_the_user_it_is_about_and_is_not_retried(
        tmp_path, chamilo, proxy):
    people = [Person(f"F{i}") for i in range(1, 6)]
    project = Project(tmp_path, chamilo, url=proxy.url)
    assert project.write(people).run("apply").code == 0
    target = [people[0].but(dept="Arts"), people[1].but(dept="Arts"), people[2].but(dept="Arts")]
    project.write(target)  # F4, F5 gone: one disable batch
    bad = proxy.rule("WSEditUsers", "F2", "fault")
    chamilo.inject("WSDisableUsers", "fault")  # once: the halves go through
    result = project.run("apply", "--report", str(tmp_path / "r.json"))
    assert result.code == 1, result.err
    outcomes = {o["key"]: o for o in report(tmp_path / "r.json")["outcomes"]}
    assert {k: o["status"] for k, o in outcomes.items()} == {
        "F1": "applied", "F2": "failed", "F3": "applied", "F4": "applied", "F5": "applied"}
    assert "Injected fault" in outcomes["F2"]["message"]
    assert bad.hits == 3  # [F1, F2, F3], [F2, F3], [F2]: a fault is never retried as such
    assert len(chamilo.calls("WSDisableUsers")) == 3
    proxy.clear()
    assert project.run("apply").code == 0
    assert_converged(chamilo, target, removed=["F4", "F5"], state_db=project.state_db)


def test_when_every_call_fails_the_halving_of_batches_stops_after_a_bounded_number_of_calls(
        tmp_path, chamilo):
    people = [Person(f"O{i}") for i in range(1, 33)]
    project = Project(tmp_path, chamilo, batch_size=32, concurrency=1)
    assert project.write(people).run("apply").code == 0
    project.write([p.but(dept="Arts") for p in people])
    chamilo.inject("WSEditUsers", "fault", times=50)  # Chamilo refuses every edit
    result = project.run("apply", "--report", str(tmp_path / "r.json"))
    assert result.code == 1, result.err
    assert set(statuses(tmp_path / "r.json").values()) == {"failed"}
    # halving stops after 14 calls failed in a row (twice the 6 levels of halving 32, plus 2);
    # the 3 halves still waiting are sent whole: 17 calls, where halving everything down to
    # single users would make 63
    assert len(chamilo.calls("WSEditUsers")) == 17


def test_a_create_that_times_out_is_looked_up_not_resent_and_the_next_run_adopts_it(
        tmp_path, chamilo):
    people = [Person("T1"), Person("T2")]
    project = Project(tmp_path, chamilo, timeout=2).write(people)
    chamilo.inject("WSCreateUsers", "hang", seconds=3)
    result = project.run("apply", "--report", str(tmp_path / "r.json"))
    assert result.code == 1, result.err
    outcomes = report(tmp_path / "r.json")["outcomes"]
    assert {o["key"]: o["status"] for o in outcomes} == {"T1": "unknown", "T2": "unknown"}
    assert all("timeout" in o["message"] for o in outcomes)
    assert len(chamilo.calls("WSCreateUsers")) == 1  # looked up, never sent again
    assert calls_naming(chamilo, "WSGetUser", "T1") == calls_naming(chamilo, "WSGetUser", "T2") == 1
    assert [a for a, _ in open_journal(project.state_db)] == ["create"]
    wait_until(lambda: chamilo.user_by_key("T1") and chamilo.user_by_key("T2"),
               "the held create to land")
    ids = {p.key: chamilo.user_by_key(p.key)["id"] for p in people}
    again = project.run("apply")
    assert again.code == 0, again.err
    assert len(chamilo.calls("WSCreateUsers")) == 1  # adopted, not created again
    assert_converged(chamilo, people, state_db=project.state_db)
    assert {p.key: chamilo.user_by_key(p.key)["id"] for p in people} == ids
    project.assert_no_write_on_next_apply()


def test_a_create_whose_answer_is_lost_is_adopted_in_the_same_run(tmp_path, chamilo):
    people = [Person(f"L{i}") for i in range(1, 4)]
    project = Project(tmp_path, chamilo).write(people)
    chamilo.inject("WSCreateUsers", "apply_then_drop")
    result = project.run("apply", "--report", str(tmp_path / "r.json"))
    assert result.code == 0, result.err
    outcomes = report(tmp_path / "r.json")["outcomes"]
    assert {o["status"] for o in outcomes} == {"applied"}
    assert all("adopted Chamilo user" in o["message"] for o in outcomes)
    assert len(chamilo.calls("WSCreateUsers")) == 1
    assert_converged(chamilo, people, state_db=project.state_db)
    project.assert_no_write_on_next_apply()


def test_creates_left_unknown_are_sent_one_per_call_next_time_so_one_user_cannot_block_others(
        tmp_path, chamilo, proxy):
    people = [Person(f"C{i}") for i in range(1, 4)]
    project = Project(tmp_path, chamilo, url=proxy.url).write(people)
    bad = proxy.rule("WSCreateUsers", "C2", "http500")  # every create naming C2 fails
    first = project.run("apply", "--report", str(tmp_path / "1.json"))
    assert first.code == 1, first.err
    assert set(statuses(tmp_path / "1.json").values()) == {"unknown"}
    assert bad.hits == 1 and chamilo.users() == []
    second = project.run("apply", "--report", str(tmp_path / "2.json"))
    assert second.code == 1, second.err
    assert statuses(tmp_path / "2.json") == {"C1": "applied", "C2": "unknown", "C3": "applied"}
    assert bad.hits == 2 and [c["items"] for c in chamilo.calls("WSCreateUsers")] == [1, 1]
    proxy.clear()
    third = project.run("apply")
    assert third.code == 0, third.err
    assert_converged(chamilo, people, state_db=project.state_db)


def test_an_existing_disabled_account_that_crashes_the_create_is_adopted_and_enabled(
        tmp_path, chamilo):
    # Chamilo 1.11 re-activates a disabled account on create, and dies (HTTP 500) when no
    # expiration_date is given; the users after it in the batch are never reached.
    old = chamilo.add_user("D2", username="old.d2", active=False)
    people = [Person("D1"), Person("D2", end=""), Person("D3")]
    project = Project(tmp_path, chamilo).write(people)
    first = project.run("apply", "--report", str(tmp_path / "1.json"))
    assert first.code == 1, first.err
    outcomes = {o["key"]: o for o in report(tmp_path / "1.json")["outcomes"]}
    assert {k: o["status"] for k, o in outcomes.items()} == {
        "D1": "applied", "D2": "applied", "D3": "unknown"}
    assert "enabled it first" in outcomes["D2"]["message"]
    second = project.run("apply")
    assert second.code == 0, second.err
    assert_converged(chamilo, people, state_db=project.state_db)
    assert chamilo.user_by_key("D2")["id"] == old


def test_when_the_journal_cannot_be_settled_nothing_is_sent_and_the_run_exits_2(
        tmp_path, chamilo, proxy):
    people = [Person(f"G{i}") for i in range(1, 4)]
    project = Project(tmp_path, chamilo, url=proxy.url).write(people)
    assert project.run_forked("apply", failpoint="after-answer:1").code == -9
    proxy.rule("WSGetUser", "G1", "http500")  # the key check passes, looking G1 up fails
    writes = len(chamilo.write_calls())
    result = project.run("apply")
    assert result.code == 2, result.err
    assert "could not settle" in result.err and "'G1'" in result.err
    assert "internal error" not in result.err and "Traceback" not in result.err
    assert len(chamilo.write_calls()) == writes
    assert [a for a, _ in open_journal(project.state_db)] == ["create"]
    proxy.clear()
    assert project.run("apply").code == 0
    assert_converged(chamilo, people, state_db=project.state_db)
    assert len(chamilo.calls("WSCreateUsers")) == 1
