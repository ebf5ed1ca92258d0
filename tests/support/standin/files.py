"""Files the Chamilo stand-in is made of, prepared at fixture time: the SQLite schema, a
PHP-8-compatible copy of Debian's nusoap 0.9.5 (never committed) and the WSDL variants."""

from __future__ import annotations

import re
from pathlib import Path

FULL_WSDL = Path(__file__).resolve().parent.parent / "registration.wsdl"
ENDPOINT_PATH = "/main/webservices/registration.soap.php"
PLACEHOLDER_ADDRESS = "http://chamilo.example" + ENDPOINT_PATH

SCHEMA = """
PRAGMA journal_mode = WAL;
CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT);
CREATE TABLE user (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE COLLATE NOCASE,
    firstname TEXT, lastname TEXT,
    email TEXT NOT NULL,
    status TEXT,
    active INTEGER NOT NULL DEFAULT 1,
    phone TEXT, expiration_date TEXT, language TEXT, official_code TEXT,
    password TEXT, auth_source TEXT, is_admin INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE extra_field (id INTEGER PRIMARY KEY AUTOINCREMENT, variable TEXT UNIQUE COLLATE NOCASE);
CREATE TABLE extra_field_value (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL, variable TEXT NOT NULL COLLATE NOCASE, value TEXT,
    UNIQUE (user_id, variable)
);
CREATE TABLE calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT, operation TEXT, items INTEGER, at REAL,
    remote_addr TEXT, forwarded_for TEXT, accept_encoding TEXT, key_ok INTEGER, injected TEXT,
    body TEXT
);
CREATE TABLE faults (
    id INTEGER PRIMARY KEY AUTOINCREMENT, operation TEXT, mode TEXT, remaining INTEGER, seconds REAL
);
"""

USER_COLUMNS = (
    "id", "username", "firstname", "lastname", "email", "status", "active", "phone",
    "expiration_date", "language", "official_code", "is_admin",
)


class StandinError(RuntimeError):
    """The stand-in could not be prepared or started."""


class StandinUnavailable(StandinError):
    """What the stand-in needs (php-cli, php-sqlite3, php-xml, libnusoap-php) is missing."""


def php5_nusoap(source: str) -> str:
    """nusoap 0.9.5 with its PHP-4 constructors (methods named like their class, which PHP 8
    no longer calls) renamed ``__construct``, and ``parent::<Class>()`` calls to match."""
    classes = re.findall(r"^class\s+(\w+)", source, re.M)
    renamed = 0
    for name in classes:
        source, n = re.subn(rf"(\bfunction\s+){name}\s*\(", r"\1__construct(", source)
        renamed += n
    source = re.sub(
        r"parent::(\w+)\s*\(",
        lambda m: "parent::__construct(" if m.group(1) in classes else m.group(0),
        source,
    )
    if renamed == 0:
        raise StandinError("no PHP-4 constructor found in nusoap.php: unexpected nusoap version")
    return source


def wsdl_for(variant: str, address: str) -> str:
    """The full 1.11.6 WSDL with ``address``; for ``"1.9"``, without the output of
    WSDeleteUsers/WSDisableUsers/WSEnableUsers and without the result_actionUsers types."""
    text = FULL_WSDL.read_text(encoding="iso-8859-1")
    if text.count(PLACEHOLDER_ADDRESS) != 1:
        raise StandinError(f"{FULL_WSDL}: placeholder soap:address not found")
    text = text.replace(PLACEHOLDER_ADDRESS, address)
    if variant == "1.9":
        for op in ("WSDeleteUsers", "WSDisableUsers", "WSEnableUsers"):
            text, n = re.subn(
                rf'(<message name="{op}Response">)\s*<part name="return" type="tns:results_actionUsers" />',
                r"\1", text,
            )
            if n != 1:
                raise StandinError(f"1.9 variant: {op}Response part not found")
        for type_name in ("result_actionUsers", "results_actionUsers"):
            text, n = re.subn(
                rf' <xsd:complexType name="{type_name}">.*?</xsd:complexType>\n', "", text, flags=re.S
            )
            if n != 1:
                raise StandinError(f"1.9 variant: type {type_name} not found")
    elif variant != "1.11":
        raise ValueError(f"unknown stand-in variant {variant!r} (use '1.11' or '1.9')")
    return text
