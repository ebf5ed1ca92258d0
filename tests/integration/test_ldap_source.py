"""LdapSource against a real OpenLDAP slapd (tests/support/ldap_fixtures.py)."""

from __future__ import annotations

import ldap3
import pandas as pd
import pytest

from sync.errors import SourceError
from sync.model import LOCATOR
from sync.sources import ldap_receive, ldap_source
from sync.sources.ldap_source import LdapSource
from tests.support import ldap_directory as d

PEOPLE_ATTRIBUTES = ["uid", "givenName", "sn", "mail", "employeeNumber"]
PERSON_FILTER = "(objectClass=inetOrgPerson)"
EVERYONE = [*range(d.PEOPLE), *range(d.PEOPLE, d.PEOPLE + d.ALUMNI)]


@pytest.fixture
def make_source(ldap_server):
    def make(**overrides) -> LdapSource:
        settings = dict(name="staff", url=ldap_server.url, base_dn=d.PEOPLE_DN,
                        bind_dn=ldap_server.bind_dn, bind_password=ldap_server.bind_password,
                        filter=PERSON_FILTER, attributes=PEOPLE_ATTRIBUTES)
        settings.update(overrides)
        return LdapSource(**settings)

    return make


@pytest.fixture(scope="module")
def people(ldap_server):
    """ou=people read once, as the sync account (size limit 1000), pages of 500."""
    source = LdapSource("staff", ldap_server.url, d.PEOPLE_DN, bind_dn=ldap_server.bind_dn,
                        bind_password=ldap_server.bind_password, filter=PERSON_FILTER,
                        attributes=PEOPLE_ATTRIBUTES)
    return source.read()


def by_dn(frame) -> dict[str, dict]:
    return {row[LOCATOR]: row for row in frame.to_dict("records")}


def expected_row(i: int) -> dict:
    loaded = {name.lower(): values for name, values in d.person(i).items()}
    row = {name.lower(): loaded.get(name.lower(), []) for name in PEOPLE_ATTRIBUTES}
    return {**row, LOCATOR: d.person_dn(i)}


# -- reading everything ------------------------------------------------------------------


def test_reads_all_entries_past_the_server_size_limit(people):
    assert len(people.frame) == len(EVERYONE) > d.SIZE_LIMIT
    assert set(people.frame[LOCATOR]) == {d.person_dn(i) for i in EVERYONE}


def test_frame_holds_every_loaded_value_as_lists(people):
    assert by_dn(people.frame) == {d.person_dn(i): expected_row(i) for i in EVERYONE}


def test_describes_itself_as_an_ldap_source(people, ldap_server):
    assert (people.name, people.kind) == ("staff", "ldap")
    assert people.origin == f"{ldap_server.url}/{d.PEOPLE_DN}"


def test_columns_are_the_requested_attributes_lower_cased(people):
    assert list(people.frame.columns) == ["uid", "givenname", "sn", "mail", "employeenumber",
                                          LOCATOR]


def test_fetches_only_the_requested_attributes(make_source, monkeypatch):
    asked = []
    search = ldap3.Connection.search

    def spy(conn, *args, **kwargs):
        asked.append(kwargs["attributes"])
        return search(conn, *args, **kwargs)

    monkeypatch.setattr(ldap3.Connection, "search", spy)
    frame = make_source(attributes=["UID", "uid", "Mail"]).read().frame
    assert list(frame.columns) == ["uid", "mail", LOCATOR]
    assert len(asked) > 1 and all(a == ["uid", "mail"] for a in asked)


def test_keeps_multiple_values_in_server_order(people):
    row = by_dn(people.frame)[d.person_dn(3)]
    assert row["mail"] == ["zz.u00003@example.edu", "aa.u00003@alumni.example.edu"]


def test_keeps_accented_names(people):
    row = by_dn(people.frame)[d.person_dn(1)]
    assert (row["givenname"], row["sn"]) == (["Élodie"], ["Müller"])


def test_gives_an_empty_list_for_a_missing_attribute(people):
    rows = by_dn(people.frame)
    assert rows[d.person_dn(7)]["mail"] == []
    assert rows[d.person_dn(11)]["employeenumber"] == []


def test_reads_every_user_attribute_when_none_are_requested(make_source):
    frame = make_source(attributes=None, base_dn=d.ALUMNI_DN).read().frame
    assert {"objectclass", "uid", "cn", "givenname", "sn", "mail", LOCATOR} <= set(frame.columns)
    rows = by_dn(frame)
    assert rows[d.person_dn(d.PEOPLE + 7)]["mail"] == []  # absent everywhere it is missing
    assert rows[d.person_dn(d.PEOPLE + 3)]["cn"] == d.person(d.PEOPLE + 3)["cn"]


def test_scope_one_reads_only_the_direct_children(make_source):
    frame = make_source(scope="one").read().frame
    assert set(frame[LOCATOR]) == {d.person_dn(i) for i in range(d.PEOPLE)}


def test_scope_subtree_reads_below_sub_units_too(make_source):
    frame = make_source(scope="subtree", base_dn=d.PEOPLE_DN).read().frame
    assert d.person_dn(d.PEOPLE) in set(frame[LOCATOR])


def test_count_is_the_number_of_entries_read(make_source):
    assert make_source().count() == len(EVERYONE)
    assert make_source(scope="one").count() == d.PEOPLE


def test_reads_entries_with_the_lean_decoding(make_source, monkeypatch):
    installed = []
    lean = ldap_source.use_lean_responses
    monkeypatch.setattr(ldap_source, "use_lean_responses",
                        lambda conn: installed.append(lean(conn)) or installed[-1])
    make_source(base_dn=d.AD_DN).read()
    assert installed == [True]


def lean_frame(make_source, monkeypatch, **settings):
    """The source's frame, checking that ldap3's decoder saw no plain entry (the lean
    decoding read them all, none fell back)."""
    seen = []
    stock = ldap_receive.decode_message_fast

    def spy(message):
        seen.append(stock(message))
        return seen[-1]

    with monkeypatch.context() as patched:
        patched.setattr(ldap_receive, "decode_message_fast", spy)
        frame = make_source(**settings).read().frame
    assert seen and not [m for m in seen if m["protocolOp"] == 4 and not m["controls"]]
    return frame


def stock_frame(make_source, monkeypatch, **settings):
    """What ldap3's own receiving and decoding give for the same source."""
    with monkeypatch.context() as patched:
        patched.setattr(ldap_source, "use_lean_responses", lambda conn: False)
        return make_source(**settings).read().frame


@pytest.mark.parametrize("settings", [
    {},
    {"base_dn": d.AD_DN, "attributes": None},
    {"base_dn": d.AD_DN, "attributes": ["objectGUID", "objectSid", "userAccountControl", "mail"]},
    {"base_dn": d.AD_DN, "start_tls": True, "attributes": None},
], ids=["people", "ad-all-attributes", "ad-binary", "start-tls"])
def test_lean_decoding_gives_the_frame_ldap3_would(make_source, monkeypatch, ldap_server,
                                                   settings):
    if settings.get("start_tls"):
        settings = {**settings, "ca_file": ldap_server.ca_file}
    lean = lean_frame(make_source, monkeypatch, **settings)
    pd.testing.assert_frame_equal(lean, stock_frame(make_source, monkeypatch, **settings))


def test_lean_decoding_of_messages_cut_anywhere(make_source, monkeypatch):
    """Every message split across receives, down to one byte at a time."""
    stock = stock_frame(make_source, monkeypatch, base_dn=d.AD_DN, attributes=None)
    for size in (1, 7, 300):
        monkeypatch.setattr(ldap_receive, "RECEIVE_SIZE", size)
        lean = lean_frame(make_source, monkeypatch, base_dn=d.AD_DN, attributes=None)
        pd.testing.assert_frame_equal(lean, stock)


def test_lean_decoding_of_long_values_and_many_of_them(make_source, monkeypatch, ldap_scratch):
    """Long-form BER lengths at every level (1, 2 and 3 length bytes), empty-looking and
    binary values, a name in mixed case, and an entry without the attributes asked for."""
    ldap_scratch.add("uid=long", {
        "objectClass": ["inetOrgPerson"], "uid": "long", "cn": "Ünïcode " + "é" * 200,
        "sn": "x" * 127, "description": [f"line {i} " + "d" * (i % 300) for i in range(400)],
        "audio": bytes(range(256)) * 300, "jpegPhoto": b"\x00\xff" * 70})
    ldap_scratch.add("uid=short", {"objectClass": ["inetOrgPerson"], "uid": "short",
                                   "cn": "s", "sn": "s", "audio": b"\x80"})
    ldap_scratch.add("uid=bare", {"objectClass": ["inetOrgPerson"], "uid": "bare",
                                  "cn": "b", "sn": "b"})
    for settings in ({"attributes": None},
                     {"attributes": ["uid", "CN", "description", "audio", "jpegPhoto", "mail"],
                      "binary_attributes": ["jpegPhoto"]}):
        settings = {"base_dn": ldap_scratch.dn, "filter": "(objectClass=*)", **settings}
        lean = lean_frame(make_source, monkeypatch, **settings)
        pd.testing.assert_frame_equal(lean, stock_frame(make_source, monkeypatch, **settings))
        assert len(lean) == 4


# -- Active Directory values ------------------------------------------------------------


def test_writes_object_guid_and_sid_in_their_text_forms(make_source):
    frame = make_source(base_dn=d.AD_DN, filter="(objectClass=adLikeAccount)",
                        attributes=["uid", "objectGUID", "objectSid", "userAccountControl"]
                        ).read().frame
    got = {r["uid"][0]: (r["objectguid"], r["objectsid"], r["useraccountcontrol"])
           for r in frame.to_dict("records")}
    assert got == {uid: ([guid], [sid], [uac]) for uid, (guid, sid, uac) in d.AD_ACCOUNTS.items()}


def test_writes_other_binary_values_in_hex(make_source, ldap_scratch):
    ldap_scratch.add("uid=bin", {"objectClass": ["inetOrgPerson"], "uid": "bin", "cn": "b",
                                 "sn": "b", "audio": b"\xff\x00\x10"})
    for binary in (("audio",), ()):  # named binary, or text that is not UTF-8
        frame = make_source(base_dn=ldap_scratch.dn, attributes=["audio"],
                            binary_attributes=binary).read().frame
        assert frame["audio"].tolist() == [["ff0010"]]


# -- TLS and binds ----------------------------------------------------------------------


def test_reads_over_start_tls_with_the_ca_file(make_source, ldap_server):
    source = make_source(base_dn=d.AD_DN, start_tls=True, ca_file=ldap_server.ca_file)
    assert len(source.read().frame) == len(d.AD_ACCOUNTS)


def test_reads_over_ldaps_with_the_ca_file(make_source, ldap_server):
    source = make_source(url=ldap_server.ldaps_url, base_dn=d.AD_DN, ca_file=ldap_server.ca_file)
    assert len(source.read().frame) == len(d.AD_ACCOUNTS)


@pytest.mark.parametrize("transport", ["ldaps", "start_tls"])
def test_refuses_a_certificate_it_cannot_verify(make_source, ldap_server, transport):
    if transport == "ldaps":
        source = make_source(url=ldap_server.ldaps_url, base_dn=d.AD_DN)
    else:
        source = make_source(start_tls=True, base_dn=d.AD_DN)
    with pytest.raises(SourceError, match="CERTIFICATE_VERIFY_FAILED"):
        source.read()


def test_refuses_a_certificate_issued_for_another_name(make_source, ldap_server):
    url = ldap_server.ldaps_url.replace("127.0.0.1", "localhost")  # the cert names 127.0.0.1
    source = make_source(url=url, base_dn=d.AD_DN, ca_file=ldap_server.ca_file)
    with pytest.raises(SourceError, match="doesn't match"):
        source.read()


def test_skips_certificate_checks_only_when_told(make_source, ldap_server):
    source = make_source(url=ldap_server.ldaps_url, base_dn=d.AD_DN, verify_tls=False)
    assert len(source.read().frame) == len(d.AD_ACCOUNTS)


def test_binds_anonymously_without_a_bind_dn(make_source):
    source = make_source(bind_dn=None, bind_password=None, base_dn=d.AD_DN)
    assert len(source.read().frame) == len(d.AD_ACCOUNTS)


def test_wrong_password_names_the_account_but_never_the_password(make_source, ldap_server):
    with pytest.raises(SourceError) as caught:
        make_source(bind_password="Wrong-Secret-42").read()
    message = str(caught.value)
    assert "invalidCredentials" in message and ldap_server.bind_dn in message
    assert ldap_server.url in message and d.PEOPLE_DN in message and "'staff'" in message
    assert "Wrong-Secret-42" not in message and ldap_server.bind_password not in message


def test_unreachable_server_is_a_source_error(make_source):
    with pytest.raises(SourceError, match="cannot connect"):
        make_source(url="ldap://127.0.0.1:1", timeout=5).read()


# -- incomplete or empty answers ----------------------------------------------------------


def test_missing_base_dn_is_a_source_error(make_source):
    with pytest.raises(SourceError, match="noSuchObject") as caught:
        make_source(base_dn="ou=nobody,dc=example,dc=edu").read()
    assert "ou=nobody,dc=example,dc=edu" in str(caught.value)


def test_unpaged_search_over_the_size_limit_is_refused(make_source):
    with pytest.raises(SourceError, match="size limit exceeded"):
        make_source(page_size=0).read()


def test_pages_larger_than_the_server_allows_are_refused(make_source):
    with pytest.raises(SourceError, match="administrative limit exceeded"):
        make_source(page_size=d.SIZE_LIMIT + 1).read()


def test_admin_limit_on_the_search_is_refused(make_source, ldap_server):
    with pytest.raises(SourceError, match="administrative limit exceeded"):
        make_source(bind_dn=d.CAPPED_DN).read()


def test_a_limit_hit_on_a_later_page_refuses_the_whole_result(make_source):
    source = make_source(bind_dn=d.PAGECAP_DN)
    with pytest.raises(SourceError, match=f"page 5 after {d.PAGED_TOTAL_LIMIT} entries"):
        source.read()
    with pytest.raises(SourceError, match="size limit exceeded"):
        source.count()


def test_connection_dropped_between_pages_is_a_source_error(make_source, ldap_dropping_proxy):
    proxy = ldap_dropping_proxy(after_bytes=10_000)  # the first page is far larger
    with pytest.raises(SourceError, match="connection failed while reading page 2"):
        make_source(url=proxy.url).read()
    assert proxy.dropped.is_set()


def test_continuation_reference_is_refused(make_source, ldap_scratch):
    ldap_scratch.add("uid=here", {"objectClass": ["inetOrgPerson"], "uid": "here", "cn": "h",
                                  "sn": "h"})
    ldap_scratch.add("ou=elsewhere", {"objectClass": ["referral", "extensibleObject"],
                                      "ou": "elsewhere",
                                      "ref": "ldap://other.example.edu/ou=elsewhere"})
    with pytest.raises(SourceError, match="referral to ldap://other.example.edu"):
        make_source(base_dn=ldap_scratch.dn, filter="(objectClass=*)").read()


def test_base_dn_behind_a_referral_is_refused(make_source, ldap_scratch):
    ldap_scratch.add("ou=elsewhere", {"objectClass": ["referral", "extensibleObject"],
                                      "ou": "elsewhere",
                                      "ref": "ldap://other.example.edu/ou=elsewhere"})
    with pytest.raises(SourceError, match="referral"):
        make_source(base_dn=f"ou=elsewhere,{ldap_scratch.dn}").read()


@pytest.mark.parametrize("where", ["empty unit", "no match"])
def test_empty_result_is_refused(make_source, where):
    source = (make_source(base_dn=d.EMPTY_DN) if where == "empty unit"
              else make_source(filter="(uid=nobody-at-all)"))
    with pytest.raises(SourceError, match="returned no entries; refusing to continue"):
        source.read()
    with pytest.raises(SourceError, match="returned no entries"):
        source.count()


def test_reads_the_current_values_after_a_change(make_source, ldap_scratch, ldap_server):
    dn = ldap_scratch.add("uid=moved", {"objectClass": ["inetOrgPerson"], "uid": "moved",
                                        "cn": "m", "sn": "m", "mail": ["old@example.edu"]})
    ldap_server.modify(dn, {"mail": ["b@example.edu", "a@example.edu"]})
    frame = make_source(base_dn=ldap_scratch.dn).read().frame
    assert frame["mail"].tolist() == [["b@example.edu", "a@example.edu"]]
