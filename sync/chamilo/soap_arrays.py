"""Marking SOAP-ENC arrays in requests, so that nusoap sees lists (API.md §5, §9).

zeep renders ``users``, ``ids`` and ``extra`` as plain child lists. nusoap builds a PHP list
only when the element carries ``xsi:type="SOAP-ENC:Array"`` or ``SOAP-ENC:arrayType``;
otherwise it folds the items into one struct and, for two users or more, Chamilo silently
creates nothing. :class:`ArrayMarker` is a zeep egress plugin that rewrites every such element
of the outgoing envelope into::

    <users xsi:type="SOAP-ENC:Array" SOAP-ENC:arrayType="tns:usersParams[3]">
      <item>...</item> <item>...</item> <item>...</item>
    </users>
"""

from __future__ import annotations

from lxml import etree
from zeep import Plugin

SOAP_ENC = "http://schemas.xmlsoap.org/soap/encoding/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
TNS = "urn:WSRegistration"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"

#: Array element → item type per operation, as declared by ``wsdl:arrayType`` in Chamilo's
#: WSDL (``usersParamsList`` = ``tns:usersParams[]``, ...). ``None`` key: any operation.
ARRAY_ITEM_TYPES: dict[str, dict[str | None, str]] = {
    "users": {"WSCreateUsers": "usersParams", "WSEditUsers": "editUsersParams"},
    "ids": {None: "user_id"},
    "extra": {None: "extras"},
}
PREFIXES = {"SOAP-ENC": SOAP_ENC, "xsi": XSI, "tns": TNS}


def item_type(operation: str, element: str) -> str | None:
    by_operation = ARRAY_ITEM_TYPES.get(element)
    if by_operation is None:
        return None
    return by_operation.get(operation, by_operation.get(None))


def mark_arrays(envelope: etree._Element, operation: str) -> int:
    """Mark the array elements below the body of ``envelope`` in place; returns how many."""
    body = envelope.find(f"{{{SOAP_ENV}}}Body")
    if body is None:
        return 0
    targets = [
        (element, kind)
        for element in body.iter()
        if isinstance(element.tag, str)
        and etree.QName(element).namespace is None
        and (kind := item_type(operation, etree.QName(element).localname)) is not None
    ]
    if not targets:
        return 0
    # Declare the prefixes used in attribute values on the envelope, before using them.
    etree.cleanup_namespaces(envelope, top_nsmap=PREFIXES, keep_ns_prefixes=list(PREFIXES))
    for element, kind in targets:
        items = [child for child in element if isinstance(child.tag, str)]
        for child in items:
            child.tag = "item"
        element.set(f"{{{XSI}}}type", "SOAP-ENC:Array")
        element.set(f"{{{SOAP_ENC}}}arrayType", f"tns:{kind}[{len(items)}]")
    return len(targets)


class ArrayMarker(Plugin):
    """zeep egress plugin applying :func:`mark_arrays` to every request."""

    def egress(self, envelope, http_headers, operation, binding_options):
        mark_arrays(envelope, operation.name)
        return envelope, http_headers
