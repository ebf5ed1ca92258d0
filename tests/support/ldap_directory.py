"""The content of the test directory: who is in it, written once as data and as LDIF.

Tests compute their expectations from the same functions that load the server, so a test
compares the whole frame with what was loaded rather than with a hand-copied sample.

Layout under ``dc=example,dc=edu``::

    ou=people        PEOPLE inetOrgPerson entries uid=u00000…  (one level)
      ou=alumni      ALUMNI more inetOrgPerson entries           (subtree only)
    ou=ad            AD-like accounts: objectGUID, objectSid, userAccountControl
    ou=services      bind accounts (sync, capped, pagecap)
    ou=empty         nothing below it
    ou=scratch       mutable area for function-scoped tests
"""

from __future__ import annotations

import base64
import hashlib
import os
import uuid
from collections.abc import Iterable, Iterator, Mapping

SUFFIX = "dc=example,dc=edu"
PEOPLE_DN = f"ou=people,{SUFFIX}"
ALUMNI_DN = f"ou=alumni,{PEOPLE_DN}"
AD_DN = f"ou=ad,{SUFFIX}"
SERVICES_DN = f"ou=services,{SUFFIX}"
EMPTY_DN = f"ou=empty,{SUFFIX}"
SCRATCH_DN = f"ou=scratch,{SUFFIX}"

ADMIN_DN = f"cn=admin,{SUFFIX}"
SYNC_DN = f"cn=sync,{SERVICES_DN}"  # size limit 1000, paged searches allowed past it
CAPPED_DN = f"cn=capped,{SERVICES_DN}"  # may examine at most 100 candidates (adminLimit)
PAGECAP_DN = f"cn=pagecap,{SERVICES_DN}"  # paged searches stop after 2000 entries in all
SIZE_LIMIT = 1000
PAGED_TOTAL_LIMIT = 2000

PEOPLE = 5000
ALUMNI = 25

_GIVEN = ("Anne", "Bruno", "Chloé", "Dávid", "Ève", "François", "Grégoire", "Hélène",
          "Ingrid", "José", "Kévin", "Łukasz", "Mårten", "Noémie", "Øyvind", "Zoë")
_FAMILY = ("Martin", "Müller", "García", "Nuñez", "Dupont", "Brontë", "O'Brien", "Straße",
           "Lefèvre", "Kowalski", "Ångström", "Smith", "Søndergaard")

#: The fixed AD-like accounts: uid → (objectGUID text, objectSid text, userAccountControl).
AD_ACCOUNTS: Mapping[str, tuple[str, str, str]] = {
    "ad-enabled": ("0fb7a8e4-3e7c-4d5a-9b1e-2a6f0c3d4e5f",
                   "S-1-5-21-3623811015-3361044348-30300820-1013", "512"),
    "ad-disabled": ("f0e1d2c3-b4a5-9687-7869-5a4b3c2d1e0f",
                    "S-1-5-21-3623811015-3361044348-30300820-1014", "514"),
}

#: A small schema with Active Directory's names and OIDs for the attributes the tool reads
#: from AD, on an auxiliary class so inetOrgPerson entries can carry them.
AD_SCHEMA = """\
attributetype ( 1.2.840.113556.1.4.2 NAME 'objectGUID'
  EQUALITY octetStringMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.40 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.146 NAME 'objectSid'
  EQUALITY octetStringMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.40 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.8 NAME 'userAccountControl'
  EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
objectclass ( 1.3.6.1.4.1.4203.666.11.1 NAME 'adLikeAccount' AUXILIARY
  MAY ( objectGUID $ objectSid $ userAccountControl ) )
"""


def person(i: int) -> dict[str, list[str]]:
    """Entry ``i`` (of ou=people, or of ou=alumni for the last ALUMNI ones), as attribute →
    values in the order they are loaded. Deterministic.

    * ``i == 1`` is Élodie Müller; other names cycle through accented ones;
    * ``i % 10 == 3``: two mail values, the one that sorts last first;
    * ``i % 50 == 7``: no mail; ``i % 40 == 11``: no employeeNumber.
    """
    uid = f"u{i:05d}"
    given, family = ("Élodie", "Müller") if i == 1 else (_GIVEN[i % 16], _FAMILY[i % 13])
    entry = {"uid": [uid], "givenName": [given], "sn": [family], "cn": [f"{given} {family}"]}
    if i % 40 != 11:
        entry["employeeNumber"] = [f"E{i:06d}"]
    if i % 10 == 3:
        entry["mail"] = [f"zz.{uid}@example.edu", f"aa.{uid}@alumni.example.edu"]
    elif i % 50 != 7:
        entry["mail"] = [f"{uid}@example.edu"]
    return entry


def person_dn(i: int, people: int = PEOPLE) -> str:
    """The DN of entry ``i`` in a directory loaded with ``people`` entries in ou=people."""
    return f"uid=u{i:05d},{PEOPLE_DN if i < people else ALUMNI_DN}"


def ssha(password: str) -> str:
    salt = os.urandom(8)
    digest = hashlib.sha1(password.encode() + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


def ldif_record(dn: str, attrs: Mapping[str, Iterable[str | bytes]]) -> str:
    lines = [_ldif_line("dn", dn)]
    for name, values in attrs.items():
        lines.extend(_ldif_line(name, v) for v in values)
    return "\n".join(lines) + "\n\n"


def _ldif_line(name: str, value: str | bytes) -> str:
    if isinstance(value, str) and value.isascii() and value.isprintable() and (
        not value or value[0] not in " :<") and not value.endswith(" "):
        return f"{name}: {value}"
    raw = value if isinstance(value, bytes) else value.encode()
    return f"{name}:: {base64.b64encode(raw).decode()}"


def directory_ldif(people: int, bind_password: str) -> Iterator[str]:
    """Every record of the directory, parents first, ``people`` entries under ou=people."""
    yield ldif_record(SUFFIX, {"objectClass": ["dcObject", "organization"], "dc": ["example"],
                               "o": ["Example University"]})
    for dn in (PEOPLE_DN, ALUMNI_DN, AD_DN, SERVICES_DN, EMPTY_DN, SCRATCH_DN):
        yield ldif_record(dn, {"objectClass": ["organizationalUnit"],
                               "ou": [dn.split(",")[0][3:]]})
    for cn_dn in (SYNC_DN, CAPPED_DN, PAGECAP_DN):
        cn = cn_dn.split(",")[0][3:]
        yield ldif_record(cn_dn, {"objectClass": ["person", "simpleSecurityObject"],
                                  "cn": [cn], "sn": ["service"],
                                  "userPassword": [ssha(bind_password)]})
    for i in range(people + ALUMNI):
        yield ldif_record(person_dn(i, people), {"objectClass": ["inetOrgPerson"], **person(i)})
    for uid, (guid, sid, uac) in AD_ACCOUNTS.items():
        yield ldif_record(f"uid={uid},{AD_DN}", {
            "objectClass": ["inetOrgPerson", "adLikeAccount"], "uid": [uid],
            "cn": [uid], "sn": ["Account"],
            "objectGUID": [uuid.UUID(guid).bytes_le], "objectSid": [sid_bytes(sid)],
            "userAccountControl": [uac]})


def sid_bytes(text: str) -> bytes:
    """The binary form of a SID string ``S-1-<authority>-<sub>…`` (test data only)."""
    parts = text.split("-")
    revision, authority, subs = int(parts[1]), int(parts[2]), [int(p) for p in parts[3:]]
    return (bytes([revision, len(subs)]) + authority.to_bytes(6, "big")
            + b"".join(s.to_bytes(4, "little") for s in subs))
