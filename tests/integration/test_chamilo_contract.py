"""The ChamiloClient contract, run against the in-memory fake and against the real SOAP client
on the nusoap stand-in: whatever passes here holds for both (ARCHITECTURE habit 5)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from sync.chamilo.memory import InMemoryChamilo
from sync.errors import KeyRefused, TransientError
from sync.model import ChamiloUser, ItemResult, UserPayload
from sync.ports import ChamiloClient


@dataclass
class Backend:
    client: ChamiloClient
    chamilo: Any  # InMemoryChamilo or ChamiloStandin: users(), user_by_key(), add_user(), ...
    refused: Callable[[], ChamiloClient]  # a client whose key is refused


@pytest.fixture(params=["memory", "soap"])
def backend(request) -> Backend:
    if request.param == "memory":
        fake = InMemoryChamilo("external_user_id")

        def refused() -> InMemoryChamilo:
            fake.refuse_key = True
            return fake
        return Backend(fake, fake, refused)
    standin = request.getfixturevalue("chamilo")
    make = request.getfixturevalue("make_soap_client")
    return Backend(make(standin), standin, lambda: make(standin, security_key="wrong"))


def user(key: str, login: str, **fields: str | None) -> UserPayload:
    password = fields.pop("password", "pw") if "password" in fields else "pw"
    values = {"firstname": "Ann", "lastname": "Lee", "email": f"{login}@x.org", "loginname": login,
              "status": "5", **fields}
    return UserPayload(key, {k: v for k, v in values.items() if v is not None}, password=password)


def results(items: list[ItemResult]) -> list[str | None]:
    return [r.result for r in items]


# -- create ------------------------------------------------------------------------------------------
def test_create_returns_new_ids_in_order_and_the_users_exist(backend):
    answer = backend.client.create_users([user("A1", "ann"), user("B2", "bob"), user("C3", "cy")])
    assert [r.key for r in answer] == ["A1", "B2", "C3"]
    ids = [int(r.result) for r in answer]
    assert len(set(ids)) == 3 and all(i > 0 for i in ids)
    assert backend.client.get_user("B2") == ChamiloUser(ids[1], "Ann", "Lee")


def test_create_on_an_active_key_answers_zero_and_changes_nothing(backend):
    backend.chamilo.add_user("A1", username="ann", firstname="Old")
    assert results(backend.client.create_users([user("A1", "ann2", firstname="New")])) == ["0"]
    assert backend.chamilo.user_by_key("A1")["firstname"] == "Old"


def test_keys_are_compared_case_insensitively(backend):
    backend.chamilo.add_user("ABC", username="ann")
    assert results(backend.client.create_users([user("abc", "ann2")])) == ["0"]
    assert backend.client.get_user("aBc") is not None


def test_create_on_an_inactive_key_reactivates_and_overwrites(backend):
    uid = backend.chamilo.add_user("A1", username="ann", firstname="Old", active=False)
    answer = backend.client.create_users([user("A1", "ann.b", firstname="New",
                                               expiration_date="2032-01-01 00:00:00")])
    assert results(answer) == [str(uid)]
    account = backend.chamilo.user_by_key("A1")
    assert (account["active"], account["firstname"], account["username"]) == (True, "New", "ann.b")
    assert account["expiration_date"] == "2032-01-01 00:00:00"


def test_reactivation_without_expiration_date_is_a_transient_error(backend):
    backend.chamilo.add_user("A1", username="ann", active=False)
    with pytest.raises(TransientError):
        backend.client.create_users([user("A1", "ann")])
    assert backend.chamilo.user_by_key("A1")["active"] is False


def test_create_refuses_taken_or_empty_logins_and_missing_passwords(backend):
    backend.chamilo.add_user(None, username="taken")
    answer = backend.client.create_users([
        user("A1", "TAKEN"), user("B2", "bob", password=None), user("C3", "cy", password=""),
        user("E5", ""), user("D4", "dee")])
    assert results(answer)[:4] == ["0", "0", "0", "0"] and results(answer)[4] != "0"
    assert [u["original_id"] for u in backend.chamilo.users()] == [None, "D4"]


def test_create_stores_extras_language_and_defaults(backend):
    payload = UserPayload("A1", {"firstname": "A", "lastname": "B", "email": "a@x.org",
                                 "loginname": "ann", "status": "1", "language": "Klingon",
                                 "extra.campus": "North"}, {"department": "Math"}, password="pw")
    backend.client.create_users([payload])
    account = backend.chamilo.user_by_key("A1")
    assert account["extras"] == {"campus": "North", "department": "Math"}
    assert (account["language"], account["status"], account["expiration_date"]) == ("english", "1", None)


def test_non_ascii_values_round_trip(backend):
    payload = UserPayload("Kø-1", {"firstname": "Élodie", "lastname": "Nguyễn", "email": "e@x.org",
                                   "loginname": "elodie", "status": "5"},
                          {"ville": "Zürich"}, password="pässword")
    assert results(backend.client.create_users([payload]))[0] != "0"
    account = backend.chamilo.user_by_key("Kø-1")
    assert (account["firstname"], account["lastname"], account["extras"]) == (
        "Élodie", "Nguyễn", {"ville": "Zürich"})
    assert backend.chamilo.password_matches("Kø-1", "pässword")
    assert backend.client.get_user("Kø-1").firstname == "Élodie"


def test_unknown_fields_are_refused_before_anything_is_sent(backend):
    with pytest.raises(ValueError, match="nickname"):
        backend.client.create_users([UserPayload("A1", {**user("A1", "ann").fields, "nickname": "x"})])
    assert backend.chamilo.users() == []


# -- edit --------------------------------------------------------------------------------------------
def test_edit_answers_zero_for_unknown_disabled_and_login_clashes(backend):
    backend.chamilo.add_user("A1", username="ann")
    backend.chamilo.add_user("B2", username="bob", active=False)
    backend.chamilo.add_user("C3", username="cy")
    answer = backend.client.edit_users([user("ZZ", "zed"), user("B2", "bob"), user("C3", "Ann")])
    assert results(answer) == ["0", "0", "0"]
    assert backend.chamilo.user_by_key("C3")["username"] == "cy"


def test_edit_writes_fields_and_clears_the_expiry_when_none_is_sent(backend):
    uid = backend.chamilo.add_user("A1", username="ann", expiration_date="2030-01-01 00:00:00", phone="1")
    answer = backend.client.edit_users([user("A1", "ann2", email="new@x.org", lastname="")])
    assert results(answer) == [str(uid)]
    account = backend.chamilo.user_by_key("A1")
    assert (account["username"], account["email"], account["lastname"]) == ("ann2", "new@x.org", "Existing")
    assert account["expiration_date"] is None and account["phone"] is None


def test_edit_with_empty_status_makes_a_student_and_admins_stay_teachers(backend):
    backend.chamilo.add_user("A1", username="ann", status="1")
    backend.chamilo.add_user("B2", username="bob", status="1", is_admin=True)
    backend.client.edit_users([user("A1", "ann", status=""), user("B2", "bob", status="5")])
    assert backend.chamilo.user_by_key("A1")["status"] == "5"
    assert backend.chamilo.user_by_key("B2")["status"] == "1"


def test_edit_updates_extras_only_for_existing_fields(backend):
    backend.chamilo.add_user("A1", username="ann", extras={"department": "Old"})
    backend.client.edit_users([UserPayload("A1", user("A1", "ann").fields,
                                           {"department": "New", "ghost": "x"})])
    assert backend.chamilo.user_by_key("A1")["extras"] == {"department": "New"}
    assert "ghost" not in backend.chamilo.extra_fields()


def test_edit_needs_username_email_and_status(backend):
    backend.chamilo.add_user("A1", username="ann")
    with pytest.raises(ValueError, match="status"):
        backend.client.edit_users([user("A1", "ann", status=None)])


# -- enable, disable, get ----------------------------------------------------------------------------
def test_disable_and_enable_answer_one_for_known_keys_even_when_repeated(backend):
    backend.chamilo.add_user("A1", username="ann")
    backend.chamilo.add_user("B2", username="bob")
    assert results(backend.client.disable_users(["A1", "B2", "ZZ"])) == ["1", "1", "0"]
    assert results(backend.client.disable_users(["A1"])) == ["1"]
    assert [u["active"] for u in backend.chamilo.users()] == [False, False]
    assert results(backend.client.enable_users(["B2", "ZZ"])) == ["1", "0"]
    assert [u["active"] for u in backend.chamilo.users()] == [False, True]


def test_get_user_sees_disabled_accounts_and_none_for_unknown(backend):
    uid = backend.chamilo.add_user("A1", username="ann", firstname="Ann", lastname="Lee", active=False)
    assert backend.client.get_user("A1") == ChamiloUser(uid, "Ann", "Lee")
    assert backend.client.get_user("nobody") is None


def test_a_key_with_a_quote_breaks_chamilo_sql_and_is_a_transient_error(backend):
    with pytest.raises(TransientError):
        backend.client.disable_users(["O'Brien"])


def test_a_refused_key_raises_key_refused_and_changes_nothing(backend):
    backend.chamilo.add_user("A1", username="ann")
    client = backend.refused()
    with pytest.raises(KeyRefused):
        client.disable_users(["A1"])
    with pytest.raises(KeyRefused):
        client.check()
    assert backend.chamilo.user_by_key("A1")["active"] is True


def test_check_passes_with_the_right_key_and_writes_nothing(backend):
    backend.client.check()
    assert backend.chamilo.users() == []
