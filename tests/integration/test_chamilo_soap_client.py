"""SoapChamiloClient against the nusoap stand-in: what reaches Chamilo, what comes back, how
failures are retried or not, and that no secret is ever logged."""

from __future__ import annotations

import logging
import time

import pytest

from sync.chamilo.soap_client import SoapChamiloClient
from sync.errors import ChamiloError, KeyRefused, TransientError
from sync.model import ChamiloUser, ItemResult, UserPayload

PASSWORD = "Pa55-word-never-logged"


def person(i: int, **fields: str) -> UserPayload:
    values = {"firstname": f"First{i}", "lastname": f"Last{i}", "email": f"user{i}@example.org",
              "loginname": f"user{i}", "status": "5", "language": "french", "phone": f"555-{i}",
              "expiration_date": "2031-06-30 23:59:59"}
    values.update(fields)
    return UserPayload(key=f"P{i:03d}", fields=values, extras={"department": f"D{i}"},
                       password=PASSWORD)


def edit(payload: UserPayload, **fields: str | None) -> UserPayload:
    values = {**payload.fields, **fields}
    return UserPayload(payload.key, {k: v for k, v in values.items() if v is not None},
                       payload.extras, password=PASSWORD)


@pytest.fixture
def client(chamilo, make_soap_client) -> SoapChamiloClient:
    return make_soap_client(chamilo)


@pytest.fixture
def three(client) -> list[UserPayload]:
    users = [person(1), person(2), person(3, status="1")]
    assert [r.result for r in client.create_users(users)] == ["1", "2", "3"]
    return users


# -- create, edit, enable, disable, get ------------------------------------------------------------
def test_creates_a_batch_of_three_users_with_all_fields_and_extras(client, chamilo, three):
    created = {u["original_id"]: u for u in chamilo.users()}
    assert sorted(created) == ["P001", "P002", "P003"]
    ann = created["P001"]
    assert (ann["firstname"], ann["lastname"], ann["email"], ann["username"]) == (
        "First1", "Last1", "user1@example.org", "user1")
    assert (ann["status"], ann["language"], ann["phone"], ann["expiration_date"]) == (
        "5", "french", "555-1", "2031-06-30 23:59:59")
    assert created["P003"]["status"] == "1"
    assert created["P002"]["extras"] == {"department": "D2"}
    assert chamilo.password_matches("P001", PASSWORD)
    (call,) = chamilo.calls("WSCreateUsers")
    assert call["items"] == 3 and "<loginname>user1</loginname>" in call["body"]


def test_create_results_keep_input_order_and_report_refusals(client, chamilo, three):
    results = client.create_users([person(4), person(1), person(5, loginname="user2")])
    assert results == [ItemResult("P004", "4"), ItemResult("P001", "0"), ItemResult("P005", "0")]


def test_edit_sends_username_not_loginname_and_updates_a_batch(client, chamilo, three):
    changed = [edit(three[0], loginname="ann.new", email="ann@new.org"),
               edit(three[1], firstname="Bobby"), edit(three[2], phone="999")]
    assert client.edit_users(changed) == [ItemResult("P001", "1"), ItemResult("P002", "2"),
                                          ItemResult("P003", "3")]
    body = chamilo.calls("WSEditUsers")[0]["body"]
    assert "<username>ann.new</username>" in body and "loginname" not in body
    users = {u["original_id"]: u for u in chamilo.users()}
    assert (users["P001"]["username"], users["P001"]["email"]) == ("ann.new", "ann@new.org")
    assert users["P002"]["firstname"] == "Bobby" and users["P003"]["phone"] == "999"


def test_edit_always_sends_status_so_teachers_stay_teachers(client, chamilo, three):
    client.edit_users([edit(three[2], lastname="Renamed")])
    assert "<status>1</status>" in chamilo.calls("WSEditUsers")[0]["body"]
    assert chamilo.user_by_key("P003")["status"] == "1"


def test_edit_without_username_email_or_status_is_refused_before_sending(client, chamilo, three):
    for missing in ("loginname", "email", "status"):
        with pytest.raises(ValueError, match=missing):
            client.edit_users([edit(three[0], **{missing: None})])
    assert chamilo.calls("WSEditUsers") == []


def test_edit_never_sends_a_password_or_a_language(client, chamilo, three):
    client.edit_users([UserPayload("P001", {**three[0].fields, "language": "spanish"},
                                   password="other-password")])
    body = chamilo.calls("WSEditUsers")[0]["body"]
    assert "<password>" not in body and "<language>" not in body
    assert chamilo.password_matches("P001", PASSWORD)


def test_edit_without_expiration_date_clears_the_expiry(client, chamilo, three):
    client.edit_users([edit(three[0], expiration_date=None), edit(three[1], expiration_date=""),
                       edit(three[2], expiration_date="2040-01-01 12:00:00")])
    body = chamilo.calls("WSEditUsers")[0]["body"]
    assert body.count("<expiration_date>") == 1
    users = {u["original_id"]: u for u in chamilo.users()}
    assert users["P001"]["expiration_date"] is None and users["P002"]["expiration_date"] is None
    assert users["P003"]["expiration_date"] == "2040-01-01 12:00:00"


def test_edit_extras_update_existing_fields_only(client, chamilo, three):
    changed = UserPayload("P001", three[0].fields, {"department": "New", "unknown_field": "x"})
    client.edit_users([changed])
    assert chamilo.user_by_key("P001")["extras"] == {"department": "New"}
    assert "unknown_field" not in chamilo.extra_fields()


def test_disables_and_enables_a_batch_with_unknown_keys_answering_zero(client, chamilo, three):
    assert [r.result for r in client.disable_users(["P001", "P002", "NOPE"])] == ["1", "1", "0"]
    assert [u["active"] for u in chamilo.users()] == [False, False, True]
    assert [r.result for r in client.enable_users(["P002", "P003", "NOPE"])] == ["1", "1", "0"]
    assert [u["active"] for u in chamilo.users()] == [False, True, True]
    assert chamilo.calls("WSDisableUsers")[0]["items"] == 3


def test_get_user_finds_disabled_users_and_returns_none_for_unknown_keys(client, chamilo, three):
    client.disable_users(["P002"])
    assert client.get_user("P002") == ChamiloUser(2, "First2", "Last2")
    assert client.get_user("P999") is None


def test_empty_batches_send_nothing(client, chamilo):
    assert client.create_users([]) == client.edit_users([]) == client.disable_users([]) == []
    assert chamilo.calls() == []


# -- WSDL, binding, key ----------------------------------------------------------------------------
def test_check_loads_the_full_wsdl_without_network_and_makes_no_write(client, chamilo, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # any fetch but the stand-in fails
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    client.check()
    assert [c["operation"] for c in chamilo.calls()] == ["WSGetUser"]
    assert chamilo.write_calls() == []


def test_binds_to_the_configured_url_whatever_the_wsdl_advertises(client, chamilo):
    chamilo.set_soap_address("http://127.0.0.1:9/internal/registration.soap.php")
    assert [r.result for r in client.create_users([person(1), person(2), person(3)])] == ["1", "2", "3"]


def test_a_wrong_key_is_refused_with_a_hint_and_nothing_changes(chamilo, make_soap_client, three):
    wrong = make_soap_client(chamilo, security_key="not-the-key")
    with pytest.raises(KeyRefused) as refused:
        wrong.edit_users([edit(three[0], firstname="Hacked")])
    with pytest.raises(KeyRefused):
        wrong.check()
    error = refused.value
    assert "client_ip" in str(error) and "X-Forwarded-For" in str(error)
    assert "not-the-key" not in str(error) + error.hint
    assert chamilo.user_by_key("P001")["firstname"] == "First1"
    assert len(chamilo.calls("WSEditUsers")) == 1  # a refused key is not retried


def test_an_unreachable_chamilo_is_a_chamilo_error_naming_the_url(make_soap_client, chamilo):
    client = make_soap_client(chamilo, url="http://127.0.0.1:9/main/webservices/registration.soap.php",
                              retries=1)
    with pytest.raises(ChamiloError, match="127.0.0.1:9") as caught:
        client.check()
    assert not isinstance(caught.value, KeyRefused)


@pytest.mark.parametrize("mode", ["http500", "garbage"])
def test_a_wsdl_that_cannot_be_loaded_is_a_chamilo_error(client, chamilo, mode):
    chamilo.inject("wsdl", mode, times=10)
    with pytest.raises(ChamiloError, match=r"\?wsdl"):
        client.check()
    assert chamilo.calls() == []


def test_the_19_variant_returns_none_results_for_enable_and_disable(chamilo_19, make_soap_client):
    client = make_soap_client(chamilo_19)
    client.create_users([person(1), person(2), person(3)])
    assert client.disable_users(["P001", "P002", "P003"]) == [
        ItemResult("P001", None), ItemResult("P002", None), ItemResult("P003", None)]
    assert [u["active"] for u in chamilo_19.users()] == [False, False, False]
    assert [r.result for r in client.enable_users(["P002"])] == [None]
    assert chamilo_19.user_by_key("P002")["active"] is True


# -- failures and retries --------------------------------------------------------------------------
def test_http_500_on_edit_is_retried_until_it_succeeds(client, chamilo, three):
    chamilo.inject("WSEditUsers", "http500", times=2)
    assert [r.result for r in client.edit_users([edit(three[0], firstname="Ann")])] == ["1"]
    assert [c["injected"] for c in chamilo.calls("WSEditUsers")] == ["http500", "http500", None]


@pytest.mark.parametrize("mode", ["drop", "garbage", "apply_then_500"])
def test_dropped_or_garbled_answers_to_repeatable_calls_are_retried(client, chamilo, three, mode):
    chamilo.inject("WSDisableUsers", mode)
    assert [r.result for r in client.disable_users(["P001", "P002"])] == ["1", "1"]
    assert len(chamilo.calls("WSDisableUsers")) == 2


def test_retries_give_up_with_a_transient_error(client, chamilo, three):
    chamilo.inject("WSGetUser", "http500", times=10)
    with pytest.raises(TransientError, match="WSGetUser"):
        client.get_user("P001")
    assert len(chamilo.calls("WSGetUser")) == 4  # 1 + retries


def test_other_faults_are_chamilo_errors_and_not_retried(client, chamilo, three):
    chamilo.inject("WSEditUsers", "fault", times=5)
    with pytest.raises(ChamiloError, match="Injected fault"):
        client.edit_users([edit(three[0])])
    assert len(chamilo.calls("WSEditUsers")) == 1


def test_a_create_that_timed_out_is_not_sent_again(chamilo, make_soap_client):
    client = make_soap_client(chamilo, timeout=0.5)
    client.check()
    chamilo.inject("WSCreateUsers", "hang", seconds=1.5)
    with pytest.raises(TransientError, match="WSCreateUsers"):
        client.create_users([person(1), person(2), person(3)])
    assert len(chamilo.calls("WSCreateUsers")) == 1
    deadline = time.monotonic() + 15  # the hung request still completes on the server
    while len(chamilo.users()) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert client.get_user("P003") is not None  # the runner settles such users this way
    assert len(chamilo.calls("WSCreateUsers")) == 1


@pytest.mark.parametrize("mode", ["http500", "apply_then_500", "drop", "garbage"])
def test_a_create_whose_answer_is_lost_is_not_sent_again(client, chamilo, mode):
    chamilo.inject("WSCreateUsers", mode)
    with pytest.raises(TransientError):
        client.create_users([person(1), person(2)])
    assert len(chamilo.calls("WSCreateUsers")) == 1


# -- secrets ---------------------------------------------------------------------------------------
def test_no_key_secret_or_password_reaches_the_logs_at_debug(chamilo, make_soap_client, caplog):
    caplog.set_level(logging.DEBUG)
    client = make_soap_client(chamilo)
    client.check()
    users = [person(1), person(2), person(3)]
    client.create_users(users)
    client.edit_users([edit(users[0], firstname="Ann")])
    chamilo.inject("WSDisableUsers", "http500")
    client.disable_users(["P001"])
    wrong = make_soap_client(chamilo, security_key="wrong-key-also-secret")
    with pytest.raises(KeyRefused):
        wrong.get_user("P001")
    secrets = [chamilo.security_key, chamilo.secret_for(chamilo.client_ip), PASSWORD,
               "wrong-key-also-secret"]
    logged = caplog.text + "".join(repr(r.args) for r in caplog.records)
    assert any(r.name.startswith(("urllib3", "zeep", "sync")) and r.levelno == logging.DEBUG
               for r in caplog.records)  # debug logging really was on
    assert any("retry" in r.getMessage() for r in caplog.records)
    for secret in secrets:
        assert secret not in logged
    assert secrets[1] in chamilo.calls("WSCreateUsers")[0]["body"]  # it was sent, though


def test_the_client_repr_shows_no_secret(chamilo, make_soap_client):
    client = make_soap_client(chamilo)
    assert chamilo.security_key not in repr(client) + repr(vars(client).get("_policy"))
    assert chamilo.security_key not in str(vars(client))


def test_two_threads_can_share_one_client(client, chamilo, three):
    from concurrent.futures import ThreadPoolExecutor

    batches = [[edit(three[0], firstname="T1")], [edit(three[1], firstname="T2")]]
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(client.edit_users, batches))
    assert [r.result for a in answers for r in a] == ["1", "2"]
    assert [u["firstname"] for u in chamilo.users()][:2] == ["T1", "T2"]


def test_requests_accept_gzip(client, chamilo, three):
    assert "gzip" in chamilo.calls("WSCreateUsers")[0]["accept_encoding"]
