"""What the Chamilo client puts on the wire, without a server: the secret key, SOAP-ENC array
marking (on hand-made and on zeep-built envelopes from the real WSDL), failure classification
and the retry policy."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest
import requests
import urllib3.exceptions
import zeep
import zeep.exceptions
from lxml import etree

from sync.chamilo.retry import Classified, Failure, RetryPolicy, call_with_retries
from sync.chamilo.secret import derive_secret_key
from sync.chamilo.soap_arrays import ARRAY_ITEM_TYPES, SOAP_ENC, TNS, XSI, ArrayMarker, mark_arrays
from sync.chamilo.soap_failures import classify
from sync.chamilo.soap_transport import ChamiloTransport, DocumentRefused
from sync.errors import ChamiloError, KeyRefused, TransientError

WSDL = Path(__file__).resolve().parents[1] / "support" / "registration.wsdl"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
XSD = "http://www.w3.org/2001/XMLSchema"


# -- secret key --------------------------------------------------------------------------------
def test_secret_key_is_lowercase_sha1_of_ip_then_key():
    expected = hashlib.sha1(b"203.0.113.7" + b"s3cr3t-key").hexdigest()
    assert derive_secret_key("203.0.113.7", "s3cr3t-key") == expected
    assert expected == expected.lower() and len(expected) == 40


def test_secret_key_depends_on_the_ip_and_ignores_surrounding_spaces():
    assert derive_secret_key("10.0.0.1", "k") != derive_secret_key("10.0.0.2", "k")
    assert derive_secret_key(" 10.0.0.1\n", "k") == derive_secret_key("10.0.0.1", "k")


# -- array marking on a hand-made envelope -----------------------------------------------------
def _envelope(operation: str, part: str, inner: str) -> etree._Element:
    return etree.fromstring(
        f'<soap-env:Envelope xmlns:soap-env="{SOAP_ENV}"><soap-env:Body>'
        f'<ns0:{operation} xmlns:ns0="{TNS}"><{part}>{inner}<secret_key>s</secret_key>'
        f"</{part}></ns0:{operation}></soap-env:Body></soap-env:Envelope>"
    )


def _resolve(element: etree._Element, prefixed: str) -> tuple[str, str]:
    prefix, _, local = prefixed.partition(":")
    return element.nsmap[prefix], local


def _user(i: int, extras: int) -> str:
    extra = "".join(f"<extras><field_name>f{j}</field_name><field_value>v</field_value></extras>"
                    for j in range(extras))
    return (f"<usersParams><firstname>U{i}</firstname>"
            + (f"<extra>{extra}</extra>" if extras else "") + "</usersParams>")


def test_marks_users_array_with_soap_enc_type_count_and_item_children():
    users = "".join(_user(i, 0) for i in range(3))
    env = _envelope("WSCreateUsers", "createUsers", f"<users>{users}</users>")
    assert mark_arrays(env, "WSCreateUsers") == 1
    users = env.find(f".//{{{TNS}}}WSCreateUsers/createUsers/users")
    assert _resolve(users, users.get(f"{{{XSI}}}type")) == (SOAP_ENC, "Array")
    assert _resolve(users, users.get(f"{{{SOAP_ENC}}}arrayType")) == (TNS, "usersParams[3]")
    assert [c.tag for c in users] == ["item"] * 3
    assert [c.findtext("firstname") for c in users] == ["U0", "U1", "U2"]


def test_marks_nested_extra_arrays_with_their_own_counts():
    users = _user(0, 2) + _user(1, 1) + _user(2, 0)
    env = _envelope("WSCreateUsers", "createUsers", f"<users>{users}</users>")
    assert mark_arrays(env, "WSCreateUsers") == 3
    extras = env.findall(".//users/item/extra")
    assert [e.get(f"{{{SOAP_ENC}}}arrayType") for e in extras] == ["tns:extras[2]", "tns:extras[1]"]
    assert all(_resolve(e, e.get(f"{{{XSI}}}type")) == (SOAP_ENC, "Array") for e in extras)
    assert [c.tag for c in extras[0]] == ["item", "item"]


@pytest.mark.parametrize(("operation", "part", "array", "item_type"), [
    ("WSEditUsers", "editUsers", "users", "editUsersParams"),
    ("WSDisableUsers", "user_ids", "ids", "user_id"),
    ("WSEnableUsers", "user_ids", "ids", "user_id"),
])
def test_marks_the_array_of_each_batch_operation_with_its_item_type(operation, part, array, item_type):
    items = "<x><original_user_id_value>a</original_user_id_value></x>" * 2
    env = _envelope(operation, part, f"<{array}>{items}</{array}>")
    mark_arrays(env, operation)
    node = env.find(f".//{array}")
    assert _resolve(node, node.get(f"{{{SOAP_ENC}}}arrayType")) == (TNS, f"{item_type}[2]")


def test_leaves_operations_without_arrays_untouched():
    env = _envelope("WSGetUser", "GetUser", "<original_user_id_value>a</original_user_id_value>")
    before = etree.tostring(env)
    assert mark_arrays(env, "WSGetUser") == 0
    assert etree.tostring(env) == before


def test_array_item_types_match_the_wsdl_array_declarations():
    tree = etree.parse(str(WSDL))
    ns = {"xsd": XSD, "wsdl": WSDL_NS}

    def element_type(complex_type: str, element: str) -> str:
        node = tree.find(f'.//xsd:complexType[@name="{complex_type}"]//xsd:element[@name="{element}"]', ns)
        return node.get("type").split(":")[1]

    def array_item(list_type: str) -> str:
        attr = tree.find(f'.//xsd:complexType[@name="{list_type}"]//xsd:attribute', ns)
        return attr.get(f"{{{WSDL_NS}}}arrayType").split(":")[1].rstrip("[]")

    assert array_item(element_type("createUsers", "users")) == ARRAY_ITEM_TYPES["users"]["WSCreateUsers"]
    assert array_item(element_type("editUsers", "users")) == ARRAY_ITEM_TYPES["users"]["WSEditUsers"]
    assert array_item(element_type("user_ids", "ids")) == ARRAY_ITEM_TYPES["ids"][None]
    assert array_item(element_type("usersParams", "extra")) == ARRAY_ITEM_TYPES["extra"][None]
    assert array_item(element_type("editUsersParams", "extra")) == ARRAY_ITEM_TYPES["extra"][None]


# -- zeep + the real WSDL, offline ----------------------------------------------------------------
@pytest.fixture(scope="module")
def zeep_client():
    transport = ChamiloTransport(str(WSDL), timeout=5, verify_tls=True)
    client = zeep.Client(str(WSDL), transport=transport, plugins=[ArrayMarker()])
    yield client
    transport.close()


def test_the_full_wsdl_loads_offline_with_the_shipped_encoding_schema(zeep_client):
    assert zeep_client.get_type(f"{{{SOAP_ENC}}}Array") is not None
    assert zeep_client.get_type(f"{{{TNS}}}usersParamsList") is not None


def test_the_transport_refuses_any_other_document():
    transport = ChamiloTransport("https://lms.example/registration.soap.php?wsdl", timeout=5, verify_tls=True)
    assert transport.load(SOAP_ENC).startswith(b"<?xml")
    with pytest.raises(DocumentRefused, match="http://elsewhere.example/x.xsd"):
        transport.load("http://elsewhere.example/x.xsd")


def test_zeep_built_create_request_has_marked_arrays(zeep_client):
    service = zeep_client.create_service(f"{{{TNS}}}WSRegistrationBinding", "http://lms.example/ws")
    up, ul = zeep_client.get_type(f"{{{TNS}}}usersParams"), zeep_client.get_type(f"{{{TNS}}}usersParamsList")
    el, ex = zeep_client.get_type(f"{{{TNS}}}extrasList"), zeep_client.get_type(f"{{{TNS}}}extras")
    skip = {name: zeep.xsd.SkipValue for name, _ in up.elements}
    users = [up(**{**skip, "firstname": f"U{i}", "original_user_id_value": f"K{i}",
                   "extra": el([ex(field_name="dept", field_value="D")])}) for i in range(3)]
    envelope = zeep_client.create_message(service, "WSCreateUsers",
                                          createUsers={"users": ul(users), "secret_key": "s"})
    node = envelope.find(f".//{{{TNS}}}WSCreateUsers/createUsers/users")
    assert node.get(f"{{{SOAP_ENC}}}arrayType") == "tns:usersParams[3]"
    assert [i.findtext("original_user_id_value") for i in node.findall("item")] == ["K0", "K1", "K2"]
    assert node.find("item/lastname") is None  # absent optional elements are omitted


# -- failure classification and retries -----------------------------------------------------------
def _classify(exc):
    return classify(exc, url="https://lms.example/ws", client_ip="203.0.113.7", operation="WSEditUsers")


def _refused() -> requests.exceptions.ConnectionError:
    cause = urllib3.exceptions.NewConnectionError(None, "Connection refused")
    return requests.exceptions.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/", cause))


def test_the_secret_key_fault_becomes_key_refused_with_a_hint_about_ip_and_forwarding():
    outcome = _classify(zeep.exceptions.Fault(
        "Secret key is not correct or params are not correctly set", code="Server"))
    assert outcome.failure is Failure.FATAL
    assert isinstance(outcome.error, KeyRefused)
    message = str(outcome.error)
    assert "client_ip ('203.0.113.7')" in message and "security key" in message
    assert "X-Forwarded-For" in message and "configuration.php" in outcome.error.hint


@pytest.mark.parametrize(("exc", "failure", "error"), [
    (zeep.exceptions.Fault("Injected fault", code="Server"), Failure.FATAL, ChamiloError),
    (zeep.exceptions.TransportError("x", status_code=500), Failure.UNKNOWN, TransientError),
    (zeep.exceptions.TransportError("x", status_code=200), Failure.UNKNOWN, TransientError),
    (zeep.exceptions.TransportError("x", status_code=404), Failure.FATAL, ChamiloError),
    (requests.exceptions.ReadTimeout(), Failure.UNKNOWN, TransientError),
    (requests.exceptions.ConnectTimeout(), Failure.NOT_SENT, ChamiloError),
    (requests.exceptions.ChunkedEncodingError(), Failure.UNKNOWN, TransientError),
    (requests.exceptions.ConnectionError("Connection aborted"), Failure.UNKNOWN, TransientError),
    (_refused(), Failure.NOT_SENT, ChamiloError),
])
def test_classifies_failures_by_what_the_server_may_have_done(exc, failure, error):
    outcome = _classify(exc)
    assert (outcome.failure, type(outcome.error)) == (failure, error)
    assert "https://lms.example/ws" in str(outcome.error)


def test_a_transport_error_message_never_carries_the_response_body():
    body = b"<!-- secret_key=abcdef0123 -->"
    outcome = _classify(zeep.exceptions.TransportError(f"bad {body!r}", status_code=500, content=body))
    assert "abcdef0123" not in str(outcome.error)


def _policy(**kw) -> tuple[RetryPolicy, list[float]]:
    waits: list[float] = []
    return RetryPolicy(sleep=waits.append, rng=random.Random(1), **kw), waits


def _flaky(failures: list[BaseException]):
    calls = []

    def call():
        calls.append(1)
        if failures:
            raise failures.pop(0)
        return "done"
    return call, calls


def test_unknown_failures_are_retried_with_growing_waits_when_the_call_is_repeatable():
    policy, waits = _policy(retries=3, backoff=1.0)
    call, calls = _flaky([requests.exceptions.ReadTimeout(), requests.exceptions.ReadTimeout()])
    assert call_with_retries(call, _classify, policy, repeatable=True, what="t") == "done"
    assert len(calls) == 3
    assert 0.5 <= waits[0] <= 1.0 and 1.0 <= waits[1] <= 2.0


def test_unknown_failures_are_not_retried_when_the_call_is_not_repeatable():
    policy, waits = _policy()
    call, calls = _flaky([zeep.exceptions.TransportError("x", status_code=500)])
    with pytest.raises(TransientError):
        call_with_retries(call, _classify, policy, repeatable=False, what="t")
    assert (len(calls), waits) == (1, [])


def test_requests_that_never_left_are_retried_even_when_not_repeatable():
    policy, _ = _policy()
    call, calls = _flaky([_refused()])
    assert call_with_retries(call, _classify, policy, repeatable=False, what="t") == "done"
    assert len(calls) == 2


def test_retries_stop_at_the_limit_and_raise_the_mapped_error():
    policy, waits = _policy(retries=2, backoff=0.01)
    call, calls = _flaky([_refused()] * 5)
    with pytest.raises(ChamiloError, match="unreachable"):
        call_with_retries(call, _classify, policy, repeatable=True, what="t")
    assert (len(calls), len(waits)) == (3, 2)


def test_retries_stop_when_the_time_budget_would_be_exceeded():
    policy, waits = _policy(retries=10, backoff=4.0, max_seconds=5.0)
    call, calls = _flaky([requests.exceptions.ReadTimeout()] * 10)
    with pytest.raises(TransientError):
        call_with_retries(call, _classify, policy, repeatable=True, what="t")
    assert sum(waits) <= 5.0 and len(calls) == len(waits) + 1 < 4


def test_fatal_failures_are_raised_at_once():
    policy, waits = _policy()
    call, calls = _flaky([zeep.exceptions.Fault("Secret key is not correct or params", code="Server")])
    with pytest.raises(KeyRefused):
        call_with_retries(call, _classify, policy, repeatable=True, what="t")
    assert (len(calls), waits) == (1, [])


def test_unclassifiable_exceptions_propagate_unchanged():
    policy, _ = _policy()
    call, _ = _flaky([KeyError("bug")])
    with pytest.raises(KeyError):
        call_with_retries(call, _classify, policy, repeatable=True, what="t")


def test_classified_values_are_frozen():
    outcome = Classified(Failure.FATAL, "r", ChamiloError("m"))
    with pytest.raises(AttributeError):
        outcome.reason = "x"  # type: ignore[misc]
