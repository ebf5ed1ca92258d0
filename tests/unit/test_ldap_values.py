"""Converting raw LDAP values (bytes) to the strings of a raw frame."""

from __future__ import annotations

import pytest

from sync.sources.ldap_values import decoder_for, guid_text, sid_text, values_decoder_for

# -- objectGUID ---------------------------------------------------------------------------


def test_guid_reads_the_first_three_groups_little_endian():
    raw = bytes.fromhex("33221100" "5544" "7766" "8899" "aabbccddeeff")
    assert guid_text(raw) == "00112233-4455-6677-8899-aabbccddeeff"


def test_guid_text_is_lowercase():
    raw = bytes.fromhex("e4a8b70f7c3e5a4d9b1e2a6f0c3d4e5f")
    assert guid_text(raw) == "0fb7a8e4-3e7c-4d5a-9b1e-2a6f0c3d4e5f"


@pytest.mark.parametrize("raw", [b"", b"\x01\x02", bytes(17)])
def test_guid_of_the_wrong_length_is_written_in_hex(raw):
    assert guid_text(raw) == raw.hex()


# -- objectSid ----------------------------------------------------------------------------


@pytest.mark.parametrize("hex_bytes, text", [
    ("010100000000000100000000", "S-1-1-0"),  # Everyone
    ("0102000000000005" "20000000" "20020000", "S-1-5-32-544"),  # BUILTIN\Administrators
    ("0105000000000005" "15000000" "01000000" "02000000" "03000000" "f4010000",
     "S-1-5-21-1-2-3-500"),
    ("0105000000000005" "15000000" "c7f7fed7" "7c7755c8" "945ace01" "f5030000",
     "S-1-5-21-3623811015-3361044348-30300820-1013"),
])
def test_sid_is_written_in_its_string_form(hex_bytes, text):
    assert sid_text(bytes.fromhex(hex_bytes)) == text


def test_sid_with_a_huge_authority_writes_it_in_hex():
    assert sid_text(bytes.fromhex("0101010000000000" "07000000")) == "S-1-0x010000000000-7"


@pytest.mark.parametrize("hex_bytes", ["", "0101", "0102000000000005" "20000000"])
def test_malformed_sid_is_written_in_hex(hex_bytes):
    assert sid_text(bytes.fromhex(hex_bytes)) == hex_bytes


# -- choosing the conversion -----------------------------------------------------------------

BINARY = ("objectGUID", "objectSid", "jpegPhoto")


def test_text_attributes_are_utf8():
    assert decoder_for("givenName", BINARY)("Élodie".encode()) == "Élodie"


def test_text_that_is_not_utf8_is_written_in_hex():
    assert decoder_for("description", BINARY)(b"\xff\xfe") == "fffe"


@pytest.mark.parametrize("name", ["objectGUID", "objectguid", "OBJECTGUID"])
def test_guid_attribute_names_match_in_any_case(name):
    raw = bytes.fromhex("33221100554477668899aabbccddeeff")
    assert decoder_for(name, BINARY)(raw) == "00112233-4455-6677-8899-aabbccddeeff"


def test_consistency_guid_is_a_guid_too():
    raw = bytes.fromhex("33221100554477668899aabbccddeeff")
    assert decoder_for("msDS-ConsistencyGuid", ["msDS-ConsistencyGuid"])(raw) == (
        "00112233-4455-6677-8899-aabbccddeeff")


def test_sid_attribute_is_converted_when_binary():
    raw = bytes.fromhex("010100000000000100000000")
    assert decoder_for("objectSID", BINARY)(raw) == "S-1-1-0"


def test_other_binary_attributes_are_written_in_hex():
    assert decoder_for("jpegphoto", BINARY)(b"AB\x00") == "414200"


def test_an_attribute_left_out_of_the_binary_list_is_read_as_text():
    assert decoder_for("objectGUID", ())(b"plain") == "plain"


# -- all the values of an attribute at once ----------------------------------------------------


@pytest.mark.parametrize("name", ["givenName", "description", "objectGUID", "objectSid",
                                  "jpegPhoto", "mail"])
@pytest.mark.parametrize("values", [
    [b"plain"],
    ["Élodie".encode(), b"", "Müller".encode()],
    [b"ok", b"\xff\xfe", "é".encode()],  # one value that is not UTF-8
    [bytearray(b"from a buffer"), b"\x80"],
    [bytes.fromhex("33221100554477668899aabbccddeeff"), bytes.fromhex("010100000000000100000000")],
], ids=["one", "several", "not-utf8", "bytearray", "binary"])
def test_values_decoder_is_the_decoder_on_each_value(name, values):
    one = decoder_for(name, BINARY)
    assert values_decoder_for(name, BINARY)(values) == [one(v) for v in values]
