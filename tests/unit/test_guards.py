import pytest

from sync.guards import MaxDisable
from sync.errors import SafetyStop
from sync.guards import GuardOptions, check_disable_limit, without_disables_on_first_run
from sync.model import Action, Change, Plan


def plan_with(disables: int, managed_active: int) -> Plan:
    changes = tuple(Change(Action.DISABLE, f"K{i}", "sis") for i in range(disables))
    return Plan(changes + (Change(Action.CREATE, "NEW", "sis", {"firstname": "A"}),), 0, (), (),
                managed_active)


def test_refuses_more_disables_than_the_share_allows_with_the_numbers_and_the_way_out():
    with pytest.raises(SafetyStop) as err:
        check_disable_limit(plan_with(6, 100), GuardOptions(MaxDisable(percent=5)))
    text = str(err.value) + err.value.hint
    assert "6" in text and "5%" in text and "100" in text
    assert "--force" in err.value.hint and "--max-disable" in err.value.hint
    assert err.value.exit_code == 3


def test_allows_disables_up_to_the_share_rounded_down():
    check_disable_limit(plan_with(5, 119), GuardOptions(MaxDisable(percent=5)))
    with pytest.raises(SafetyStop):
        check_disable_limit(plan_with(6, 119), GuardOptions(MaxDisable(percent=5)))


def test_a_count_limit_is_absolute():
    check_disable_limit(plan_with(200, 10), GuardOptions(MaxDisable(count=200)))
    with pytest.raises(SafetyStop):
        check_disable_limit(plan_with(201, 10_000), GuardOptions(MaxDisable(count=200)))


def test_force_skips_the_limit():
    check_disable_limit(plan_with(50, 50), GuardOptions(MaxDisable(count=0), force=True))


def test_the_first_run_against_an_empty_store_disables_no_one():
    plan = without_disables_on_first_run(plan_with(3, 0), known_is_empty=True)
    assert [c.action for c in plan.changes] == [Action.CREATE]
    assert without_disables_on_first_run(plan_with(3, 3), known_is_empty=False).of(Action.DISABLE)


@pytest.mark.parametrize("raw, count, percent", [
    ("5%", None, 5.0), ("200", 200, None), (200, 200, None), ("0", 0, None), (" 2.5% ", None, 2.5),
])
def test_max_disable_reads_a_count_or_a_share(raw, count, percent):
    parsed = MaxDisable.parse(raw)
    assert (parsed.count, parsed.percent) == (count, percent)


@pytest.mark.parametrize("raw", ["five", "-1", "150%", True, 1.5, "%"])
def test_max_disable_rejects_nonsense(raw):
    with pytest.raises(ValueError):
        MaxDisable.parse(raw)
