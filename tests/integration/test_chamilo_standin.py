"""The nusoap stand-in itself, spoken to with raw HTTP: the WSDL it emits, the key check, the
Chamilo behaviour the client's tests rely on (crashes, unmarked arrays) and fault injection."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests
from lxml import etree

SUPPORT = Path(__file__).resolve().parents[1] / "support"
WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
XSD = "http://www.w3.org/2001/XMLSchema"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
NS = {"w": WSDL_NS, "xsd": XSD, "soap": "http://schemas.xmlsoap.org/wsdl/soap/", "env": SOAP_ENV}
USER_OPERATIONS = ("WSCreateUsers", "WSEditUsers", "WSDisableUsers", "WSEnableUsers", "WSGetUser",
                   "WSGetUserFromUsername")
USER_TYPES = ("extras", "extrasList", "usersParams", "usersParamsList", "createUsers",
              "result_createUsers", "results_createUsers", "editUsersParams", "editUsersParamsList",
              "editUsers", "result_editUsers", "results_editUsers", "result_actionUsers",
              "results_actionUsers", "user_id", "user_ids_array", "user_ids", "GetUserArg", "User",
              "GetUserArgUsername")


def soap(standin, operation: str, part: str, inner: str, *, headers=None, secret=None) -> requests.Response:
    secret = standin.secret_for(standin.client_ip) if secret is None else secret
    body = (f'<?xml version="1.0" encoding="utf-8"?><e:Envelope xmlns:e="{SOAP_ENV}" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            'xmlns:enc="http://schemas.xmlsoap.org/soap/encoding/" xmlns:tns="urn:WSRegistration">'
            f'<e:Body><tns:{operation}><{part}>{inner}<secret_key>{secret}</secret_key></{part}>'
            f"</tns:{operation}></e:Body></e:Envelope>")
    return requests.post(standin.url, data=body.encode(), timeout=10, headers={
        "Content-Type": "text/xml; charset=utf-8", **(headers or {})})


def user_xml(key: str, login: str, **extra: str) -> str:
    fields = {"firstname": "Ann", "lastname": "Lee", "email": f"{login}@x.org", "status": "5",
              "loginname": login, "password": "pw", "original_user_id_name": "external_user_id",
              "original_user_id_value": key, **extra}
    return "<item>" + "".join(f"<{k}>{v}</{k}>" for k, v in fields.items()) + "</item>"


def marked(items: list[str], item_type: str = "usersParams", name: str = "users") -> str:
    return (f'<{name} xsi:type="enc:Array" enc:arrayType="tns:{item_type}[{len(items)}]">'
            + "".join(items) + f"</{name}>")


def envelope_of(response: requests.Response) -> etree._Element:
    text = response.content
    return etree.fromstring(text[: text.index(b"</SOAP-ENV:Envelope>") + len(b"</SOAP-ENV:Envelope>")])


def results_of(response: requests.Response) -> list[tuple[str | None, str | None]]:
    """(original_user_id_value, result) per result item; ``None`` for xsi:nil."""
    def text(item: etree._Element, name: str) -> str | None:
        node = item.find(name)
        nil = node.get("{http://www.w3.org/2001/XMLSchema-instance}nil") == "true"
        return None if nil else node.text or ""
    items = envelope_of(response).findall(".//return/item")
    return [(text(i, "original_user_id_value"), text(i, "result")) for i in items]


def _canonical(node: etree._Element) -> bytes:
    return etree.tostring(node, method="c14n")


# -- WSDL ----------------------------------------------------------------------------------------
def test_wsdl_has_the_user_operations_of_registration_wsdl_with_identical_definitions(chamilo):
    served = etree.fromstring(requests.get(chamilo.url + "?wsdl", timeout=10).content)
    reference = etree.parse(str(SUPPORT / "registration.wsdl")).getroot()
    for name in USER_TYPES:
        path = f'.//xsd:complexType[@name="{name}"]'
        assert _canonical(served.find(path, NS)) == _canonical(reference.find(path, NS)), name
    for op in USER_OPERATIONS:
        for path in (f'w:message[@name="{op}Request"]', f'w:message[@name="{op}Response"]',
                     f'w:portType/w:operation[@name="{op}"]', f'w:binding/w:operation[@name="{op}"]'):
            assert _canonical(served.find(path, NS)) == _canonical(reference.find(path, NS)), path
    assert len(served.findall("w:portType/w:operation", NS)) == 52


def test_wsdl_advertises_the_standin_address_unless_told_otherwise(chamilo):
    def address() -> str:
        served = etree.fromstring(requests.get(chamilo.url + "?wsdl", timeout=10).content)
        return served.find(".//soap:address", NS).get("location")

    assert address() == chamilo.url
    chamilo.set_soap_address("http://10.1.2.3:8080/main/webservices/registration.soap.php")
    assert address() == "http://10.1.2.3:8080/main/webservices/registration.soap.php"


def test_the_19_variant_wsdl_has_no_output_for_enable_and_disable(chamilo_19):
    served = etree.fromstring(requests.get(chamilo_19.url + "?wsdl", timeout=10).content)
    for op in ("WSDisableUsers", "WSEnableUsers", "WSDeleteUsers"):
        assert served.find(f'w:message[@name="{op}Response"]/w:part', NS) is None
    assert served.find('.//xsd:complexType[@name="results_actionUsers"]', NS) is None
    assert served.find('w:message[@name="WSEditUsersResponse"]/w:part', NS) is not None


# -- key check -----------------------------------------------------------------------------------
def test_wrong_key_is_the_exact_chamilo_fault_and_is_logged(chamilo):
    response = soap(chamilo, "WSGetUser", "GetUser", "<original_user_id_value>x</original_user_id_value>",
                    secret="0" * 40)
    assert response.status_code == 500
    fault = envelope_of(response).find(".//env:Fault", NS)
    assert fault.findtext("faultcode") == "Server"
    assert fault.findtext("faultstring") == "Secret key is not correct or params are not correctly set"
    assert chamilo.calls("WSGetUser")[-1]["key_ok"] == 0


def test_key_check_uses_the_first_x_forwarded_for_entry(chamilo):
    inner = "<original_user_id_value>x</original_user_id_value>"
    forwarded = {"X-Forwarded-For": "203.0.113.7 , 10.0.0.1"}
    ok = soap(chamilo, "WSGetUser", "GetUser", inner, headers=forwarded,
              secret=chamilo.secret_for("203.0.113.7"))
    refused = soap(chamilo, "WSGetUser", "GetUser", inner, headers=forwarded)  # secret for 127.0.0.1
    assert ok.status_code == 200 and refused.status_code == 500
    assert [c["key_ok"] for c in chamilo.calls()] == [1, 0]


# -- Chamilo behaviour seen on the wire ------------------------------------------------------------
def test_marked_arrays_create_every_user_and_unmarked_ones_create_nothing(chamilo):
    two = [user_xml("A1", "ann"), user_xml("B2", "bob")]
    unmarked = soap(chamilo, "WSCreateUsers", "createUsers", "<users>" + "".join(two) + "</users>")
    assert results_of(unmarked) == [(None, "0")] and chamilo.users() == []
    response = soap(chamilo, "WSCreateUsers", "createUsers", marked(two))
    assert results_of(response) == [("A1", "1"), ("B2", "2")]
    assert [u["username"] for u in chamilo.users()] == ["ann", "bob"]


def test_answers_end_with_a_debug_comment_and_are_gzipped_on_request(chamilo):
    response = soap(chamilo, "WSCreateUsers", "createUsers", marked([user_xml("A1", "ann")]),
                    headers={"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert re.search(rb"</SOAP-ENV:Envelope><!--.*-->", response.content, re.S)
    plain = soap(chamilo, "WSGetUser", "GetUser", "<original_user_id_value>a1</original_user_id_value>"
                 "<original_user_id_name>EXTERNAL_user_id</original_user_id_name>",
                 headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers
    assert envelope_of(plain).findtext(".//return/firstname") == "Ann"


def test_edit_with_an_empty_expiration_date_crashes_without_a_soap_body(chamilo):
    chamilo.add_user("A1", username="ann", expiration_date="2030-01-01 00:00:00")
    item = ("<item><original_user_id_value>A1</original_user_id_value><original_user_id_name>"
            "external_user_id</original_user_id_name><username>ann</username><email>a@x.org</email>"
            "<status>5</status><expiration_date></expiration_date></item>")
    response = soap(chamilo, "WSEditUsers", "editUsers", marked([item], "editUsersParams"))
    assert (response.status_code, response.content) == (500, b"")
    assert chamilo.user_by_key("A1")["email"] == "ann@example.org"


def test_reactivating_create_without_expiration_crashes_and_leaves_the_user_disabled(chamilo):
    chamilo.add_user("A1", username="ann", active=False)
    response = soap(chamilo, "WSCreateUsers", "createUsers", marked([user_xml("A1", "ann2")]))
    assert (response.status_code, response.content) == (500, b"")
    assert chamilo.user_by_key("A1")["active"] is False


def test_get_user_from_username_reads_the_login_as_an_id_like_1_11_6(chamilo):
    chamilo.add_user("A1", username="ann")
    bob = chamilo.add_user("B2", username="bob", active=False)
    by_login = soap(chamilo, "WSGetUserFromUsername", "GetUserFromUsername", "<username>ann</username>")
    by_id = soap(chamilo, "WSGetUserFromUsername", "GetUserFromUsername", f"<username>{bob}abc</username>")
    assert envelope_of(by_login).findtext(".//return/user_id") == ""
    assert envelope_of(by_id).findtext(".//return/user_id") == str(bob)


def test_call_log_records_operation_items_and_body(chamilo):
    soap(chamilo, "WSDisableUsers", "user_ids", marked(
        ["<item><original_user_id_value>A</original_user_id_value></item>"] * 3, "user_id", "ids"))
    (call,) = chamilo.calls()
    assert (call["operation"], call["items"], call["key_ok"]) == ("WSDisableUsers", 3, 1)
    assert "<ids " in call["body"]
    assert chamilo.write_calls() == [call]


# -- fault injection -------------------------------------------------------------------------------
def test_injected_http500_answers_an_empty_500_and_does_nothing(chamilo):
    chamilo.inject("WSCreateUsers", "http500")
    first = soap(chamilo, "WSCreateUsers", "createUsers", marked([user_xml("A1", "ann")]))
    assert (first.status_code, first.content, chamilo.users()) == (500, b"", [])
    second = soap(chamilo, "WSCreateUsers", "createUsers", marked([user_xml("A1", "ann")]))
    assert second.status_code == 200 and len(chamilo.users()) == 1
    assert [c["injected"] for c in chamilo.calls()] == ["http500", None]


def test_injected_apply_then_500_performs_the_write_but_loses_the_answer(chamilo):
    chamilo.inject("WSCreateUsers", "apply_then_500")
    response = soap(chamilo, "WSCreateUsers", "createUsers", marked([user_xml("A1", "ann")]))
    assert (response.status_code, response.content) == (500, b"")
    assert chamilo.user_by_key("A1")["username"] == "ann"


def test_injected_drop_breaks_the_connection(chamilo):
    chamilo.inject("*", "drop")
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)):
        soap(chamilo, "WSGetUser", "GetUser", "<original_user_id_value>x</original_user_id_value>")


@pytest.mark.parametrize(("mode", "status", "marker"), [
    ("garbage", 200, b"not XML"),
    ("fault", 500, b"<faultstring"),
])
def test_injected_garbage_and_fault_answers(chamilo, mode, status, marker):
    chamilo.inject("WSGetUser", mode)
    response = soap(chamilo, "WSGetUser", "GetUser", "<original_user_id_value>x</original_user_id_value>")
    assert response.status_code == status and marker in response.content


def test_faults_can_target_the_wsdl_and_reset_clears_them(chamilo):
    chamilo.inject("wsdl", "http500", times=5)
    assert requests.get(chamilo.url + "?wsdl", timeout=10).status_code == 500
    chamilo.reset()
    assert requests.get(chamilo.url + "?wsdl", timeout=10).status_code == 200


def test_unknown_fault_modes_are_refused(chamilo):
    with pytest.raises(ValueError, match="unknown fault mode"):
        chamilo.inject("WSGetUser", "explode")
