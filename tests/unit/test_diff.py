from sync.diff import DiffOptions, plan_changes
from sync.model import ACTIVE, Action
from tests.support.frames import desired_frame, known_frame, make_person


def actions(plan):
    return sorted((c.action.value, c.key) for c in plan.changes)


def test_creates_every_active_user_the_store_does_not_know():
    desired = desired_frame(make_person("P001"), make_person("P002"))
    plan = plan_changes(desired, known_frame(), {"P001", "P002"})
    assert actions(plan) == [("create", "P001"), ("create", "P002")]
    create = plan.of(Action.CREATE)[0]
    assert create.fields["firstname"] == "Ann" and create.source == "sis"
    assert plan.unchanged == 0


def test_plans_nothing_when_the_store_holds_what_the_source_says():
    p = make_person("P001")
    plan = plan_changes(desired_frame(p), known_frame(p), {"P001"})
    assert plan.changes == ()
    assert plan.unchanged == 1


def test_update_lists_only_the_fields_that_differ_with_old_and_new():
    old = make_person("P002", email="a@x.org")
    new = make_person("P002", email="b@x.org")
    plan = plan_changes(desired_frame(new), known_frame(old), {"P002"})
    [change] = plan.changes
    assert change.action is Action.UPDATE
    assert change.changes == {"email": ("a@x.org", "b@x.org")}
    assert change.fields["loginname"] == new["loginname"]  # full values for WSEditUsers


def test_a_field_this_source_does_not_map_is_not_an_update():
    known = make_person("P002", phone="123")
    desired = make_person("P002", phone=None)
    assert plan_changes(desired_frame(desired), known_frame(known), {"P002"}).changes == ()


def test_an_empty_optional_value_equals_a_never_pushed_one():
    known = make_person("P002")
    desired = make_person("P002", phone="")
    assert plan_changes(desired_frame(desired), known_frame(known), {"P002"}).changes == ()


def test_disables_managed_user_missing_from_every_source():
    plan = plan_changes(desired_frame(make_person("P001")),
                        known_frame(make_person("P001"), make_person("P003")), {"P001"})
    assert actions(plan) == [("disable", "P003")]


def test_keeps_missing_users_when_on_missing_is_keep():
    plan = plan_changes(desired_frame(make_person("P001")),
                        known_frame(make_person("P001"), make_person("P003")), {"P001"},
                        DiffOptions(on_missing="keep"))
    assert plan.changes == ()


def test_disables_a_row_marked_inactive_even_when_on_missing_is_keep():
    plan = plan_changes(desired_frame(make_person("P001", **{ACTIVE: False})),
                        known_frame(make_person("P001")), {"P001"}, DiffOptions(on_missing="keep"))
    assert actions(plan) == [("disable", "P001")]


def test_does_not_create_an_inactive_row_whose_key_is_unknown():
    plan = plan_changes(desired_frame(make_person("P009", **{ACTIVE: False})), known_frame(), {"P009"})
    assert plan.changes == () and plan.unchanged == 1


def test_enables_a_returning_user_and_updates_what_changed():
    known = make_person("P004", email="old@x.org", **{ACTIVE: False})
    desired = make_person("P004", email="new@x.org")
    plan = plan_changes(desired_frame(desired), known_frame(known), {"P004"})
    assert actions(plan) == [("enable", "P004"), ("update", "P004")]


def test_never_disables_users_imported_one_off():
    imported = make_person("P005", _source=None)
    plan = plan_changes(desired_frame(make_person("P001")),
                        known_frame(make_person("P001"), imported), {"P001"})
    assert plan.changes == ()


def test_with_source_only_that_sources_users_can_be_disabled():
    known = known_frame(make_person("P001", _source="sis"), make_person("S001", _source="staff"))
    plan = plan_changes(desired_frame(make_person("P002")), known, {"P002"},
                        DiffOptions(scope=frozenset({"sis"})))
    assert ("disable", "P001") in actions(plan)
    assert ("disable", "S001") not in actions(plan)


def test_a_rejected_rows_key_still_counts_as_present():
    plan = plan_changes(desired_frame(make_person("P001")),
                        known_frame(make_person("P001"), make_person("P017")), {"P001", "P017"})
    assert plan.changes == ()


def test_import_mode_never_disables_and_creates_users_owned_by_no_source():
    plan = plan_changes(desired_frame(make_person("N001")), known_frame(make_person("P001")),
                        {"N001"}, DiffOptions(import_mode=True))
    assert actions(plan) == [("create", "N001")]
    assert plan.changes[0].source is None


def test_keys_that_differ_only_by_case_are_the_same_user():
    plan = plan_changes(desired_frame(make_person("p001", email="p001@school.example")),
                        known_frame(make_person("P001")), {"p001"})
    assert plan.changes == ()


def test_managed_active_counts_only_active_users_owned_by_a_source():
    known = known_frame(make_person("A"), make_person("B", **{ACTIVE: False}),
                        make_person("C", _source=None))
    plan = plan_changes(desired_frame(make_person("A")), known, {"A"})
    assert plan.managed_active == 1


def test_extra_fields_are_diffed_like_fields():
    known = make_person("P001", **{"extra.department": "Sciences"})
    desired = make_person("P001", **{"extra.department": "Arts"})
    [change] = plan_changes(desired_frame(desired), known_frame(known), {"P001"}).changes
    assert change.changes == {"extra.department": ("Sciences", "Arts")}


def test_managed_active_counts_every_sources_users_even_when_a_run_is_limited():
    known = known_frame(make_person("A", _source="sis"), make_person("S", _source="staff"))
    plan = plan_changes(desired_frame(make_person("A")), known, {"A"},
                        DiffOptions(scope=frozenset({"sis"})))
    assert plan.managed_active == 2
