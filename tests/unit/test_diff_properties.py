"""The core property: applying a plan to the known state yields the desired state, and
planning again yields an empty plan."""

from hypothesis import given, settings
from hypothesis import strategies as st

from sync.diff import plan_changes
from sync.model import ACTIVE, USER_ID, Action, Outcome, Status
from sync.state.memory_store import MemoryStateStore
from tests.support.frames import desired_frame, make_person

KEYS = ["K1", "K2", "K3", "K4", "K5", "K6"]

person = st.builds(
    lambda key, first, email, status, phone, active: make_person(
        key, firstname=first, email=email, status=status, phone=phone, **{ACTIVE: active}),
    key=st.sampled_from(KEYS),
    first=st.sampled_from(["Ann", "Bob", "Éva"]),
    email=st.sampled_from(["a@x.org", "b@x.org"]),
    status=st.sampled_from(["1", "5"]),
    phone=st.sampled_from(["", "123", None]),
    active=st.booleans(),
)
population = st.lists(person, max_size=6, unique_by=lambda p: p["key"])


def apply_everything(store: MemoryStateStore, plan) -> None:
    ids = {}
    batch = []
    for n, change in enumerate(plan.changes):
        uid = ids.setdefault(change.key, 1000 + n) if change.action is Action.CREATE else None
        batch.append((change, Outcome(change.action, change.key, Status.APPLIED, uid)))
    store.record(batch)


def plan_for(store, people):
    desired = desired_frame(*people)
    return plan_changes(desired, store.known(), set(desired.index))


@settings(max_examples=150, deadline=None)
@given(first=population, second=population)
def test_applying_a_plan_reaches_the_desired_state_and_a_second_plan_is_empty(first, second):
    store = MemoryStateStore()
    for people in (first, second):
        apply_everything(store, plan_for(store, people))
        assert plan_for(store, people).changes == ()

    known = store.known()
    for p in second:
        if p[ACTIVE]:
            row = known.loc[p["key"]]
            assert bool(row[ACTIVE]) is True
            for field in ("firstname", "email", "status"):
                assert row[field] == p[field]
            assert row[USER_ID] is not None
        elif p["key"] in known.index:
            assert bool(known.at[p["key"], ACTIVE]) is False
    present = {p["key"] for p in second}
    for key in known.index:
        if key not in present:
            assert bool(known.at[key, ACTIVE]) is False
