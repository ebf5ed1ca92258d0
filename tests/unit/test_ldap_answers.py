"""LdapSource settings and its handling of each page's answer, on a scripted connection.

The real server (tests/integration/test_ldap_source.py) covers what slapd can be made to
answer; these cover answers it cannot easily be made to give (a page without the paging
control, a time limit) and the password scrubbing.
"""

from __future__ import annotations

import gc

import pytest
from ldap3.core.exceptions import LDAPSessionTerminatedByServerError

from sync.errors import ConfigError, SourceError
from sync.model import LOCATOR
from sync.sources.ldap_source import PAGED_RESULTS, LdapSource

PASSWORD = "Top-Secret-Bind-Pw"


def entry(uid: str, **attributes: list[bytes]) -> dict:
    return {"type": "searchResEntry", "dn": f"uid={uid},ou=people,dc=x",
            "raw_attributes": {"uid": [uid.encode()], **attributes}}


def done(cookie: bytes | None = b"", code: int = 0, description: str = "success",
         message: str = "") -> dict:
    result = {"result": code, "description": description, "message": message, "referrals": None}
    if cookie is not None:
        result["controls"] = {PAGED_RESULTS: {"value": {"size": 0, "cookie": cookie}}}
    return result


class ScriptedConnection:
    """Answers each search with the next (response, result) pair; an exception is raised."""

    def __init__(self, pages: list) -> None:
        self.pages = list(pages)
        self.cookies: list = []
        self.response: list = []
        self.result: dict = {}
        self.unbound = False

    def search(self, base, filter, scope, **options) -> bool:
        self.cookies.append(options.get("paged_cookie"))
        self.options = options
        page = self.pages.pop(0)
        if isinstance(page, Exception):
            raise page
        self.response, self.result = page
        return True

    def unbind(self) -> None:
        self.unbound = True


@pytest.fixture
def scripted(monkeypatch):
    def install(*pages) -> ScriptedConnection:
        conn = ScriptedConnection(list(pages))
        monkeypatch.setattr(LdapSource, "_connect", lambda self: conn)
        return conn

    return install


def source(**overrides) -> LdapSource:
    settings = dict(name="staff", url="ldaps://dc1.example.edu", base_dn="ou=people,dc=x",
                    bind_dn="cn=sync,dc=x", bind_password=PASSWORD, attributes=["uid", "mail"])
    return LdapSource(**{**settings, **overrides})


def test_follows_the_cookie_from_page_to_page(scripted):
    conn = scripted(([entry("a")], done(b"c1")), ([entry("b")], done(b"c2")),
                    ([entry("c", mail=[b"c@x.org"])], done(b"")))
    frame = source().read().frame
    assert conn.cookies == [None, b"c1", b"c2"]
    assert (conn.options["paged_size"], conn.options["paged_criticality"]) == (500, True)
    assert frame.to_dict("records") == [
        {"uid": ["a"], "mail": [], LOCATOR: "uid=a,ou=people,dc=x"},
        {"uid": ["b"], "mail": [], LOCATOR: "uid=b,ou=people,dc=x"},
        {"uid": ["c"], "mail": ["c@x.org"], LOCATOR: "uid=c,ou=people,dc=x"}]
    assert conn.unbound


def test_page_without_the_paging_control_is_refused(scripted):
    scripted(([entry("a")], done(b"c1")), ([entry("b")], done(cookie=None)))
    with pytest.raises(SourceError, match="page 2 without the paged-results control"):
        source().read()


def test_time_limit_on_a_later_page_is_refused(scripted):
    scripted(([entry("a")], done(b"c1")),
             ([entry("b")], done(b"", 3, "timeLimitExceeded")))
    with pytest.raises(SourceError, match="page 2 after 2 entries with time limit exceeded"):
        source().read()


def test_referral_result_names_where_it_points(scripted):
    result = {**done(b""), "result": 10, "description": "referral",
              "referrals": ["ldap://dc2.example.edu/ou=people,dc=x"]}
    scripted(([], result))
    with pytest.raises(SourceError, match="referral .* to ldap://dc2.example.edu"):
        source().read()


def test_continuation_reference_is_refused(scripted):
    scripted(([entry("a"), {"type": "searchResRef", "uri": ["ldap://dc2/ou=x"]}], done()))
    with pytest.raises(SourceError, match="referral to ldap://dc2/ou=x that is not followed"):
        source().read()


def test_connection_lost_on_a_later_page_is_refused(scripted):
    conn = scripted(([entry("a")], done(b"c1")),
                    LDAPSessionTerminatedByServerError("session terminated by server"))
    with pytest.raises(SourceError, match="connection failed while reading page 2 after 1"):
        source().read()
    assert conn.unbound


@pytest.mark.parametrize("attributes", [["uid", "member"], None])
def test_attribute_sent_in_ranges_is_refused(scripted, attributes):
    scripted(([entry("g", **{"member;range=0-1499": [b"uid=a"]})], done()))
    with pytest.raises(SourceError, match=r"uid=g,ou=people,dc=x returned member;range=0-1499"):
        source(attributes=attributes).read()


def test_unpaged_search_reads_a_single_answer(scripted):
    conn = scripted(([entry("a"), entry("b")], done(cookie=None)))
    assert source(page_size=0).count() == 2
    assert conn.cookies == [None]


def test_the_password_is_masked_even_when_the_server_repeats_it(scripted):
    scripted(([], done(b"", 50, "insufficientAccessRights", message=f"no access for {PASSWORD}")))
    with pytest.raises(SourceError) as caught:
        source().read()
    assert PASSWORD not in str(caught.value) and "********" in str(caught.value)


def test_password_stays_out_of_repr():
    assert PASSWORD not in repr(source())


def test_origin_is_the_url_and_the_base_dn():
    assert source(url="ldap://dc1:389/").origin == "ldap://dc1:389/ou=people,dc=x"


def test_bad_settings_are_all_reported_together():
    with pytest.raises(ConfigError) as caught:
        LdapSource("staff", "ldaps://dc1", "dc=x", bind_dn="cn=sync,dc=x", bind_password="",
                   scope="base", page_size=-1, start_tls=True, attributes=[])
    text = str(caught.value)
    for problem in ("start_tls", "scope", "page_size", "bind password is empty",
                    "no attribute"):
        assert problem in text
    assert len(caught.value.problems) == 5


@pytest.mark.parametrize("url", ["http://dc1", "dc1.example.edu", "ldap://", "ldap://dc1:x"])
def test_url_must_be_an_ldap_url(url):
    with pytest.raises(ConfigError, match="url"):
        LdapSource("staff", url, "dc=x")


@pytest.mark.parametrize("attributes", [["uid", "mail"], None])
def test_attribute_names_match_in_any_case(scripted, attributes):
    mixed = {"type": "searchResEntry", "dn": "uid=a,dc=x",
             "raw_attributes": {"UID": [b"a"], "Mail": [b"a@x.org", "é".encode()]}}
    scripted(([mixed], done(b"")))
    frame = source(attributes=attributes).read().frame
    assert frame.to_dict("records") == [
        {"uid": ["a"], "mail": ["a@x.org", "é"], LOCATOR: "uid=a,dc=x"}]


# -- the garbage collector ------------------------------------------------------------------


class CollectorWatch(ScriptedConnection):
    """Notes, at every search, whether Python's cyclic garbage collector is on."""

    def search(self, base, filter, scope, **options) -> bool:
        self.collecting = [*getattr(self, "collecting", []), gc.isenabled()]
        return super().search(base, filter, scope, **options)


@pytest.mark.parametrize("fails", [False, True])
def test_the_collector_pauses_during_a_read_and_resumes_after(monkeypatch, fails):
    pages = [([entry("a")], done(b"c1")),
             ([entry("b")], done(b"", 3, "timeLimitExceeded") if fails else done(b""))]
    conn = CollectorWatch(pages)
    monkeypatch.setattr(LdapSource, "_connect", lambda self: conn)
    assert gc.isenabled()
    if fails:
        with pytest.raises(SourceError, match="time limit"):
            source().read()
    else:
        assert len(source().read().frame) == 2
    assert conn.collecting == [False, False] and gc.isenabled()


def test_a_collector_already_off_stays_off(scripted):
    scripted(([entry("a")], done(b"")))
    gc.disable()
    try:
        source().read()
        assert not gc.isenabled()
    finally:
        gc.enable()
