"""The HTTP side of the zeep client: offline schemas and logs without bodies.

* The WSDL imports the SOAP 1.1 encoding schema (``SOAP-ENC:Array``), which zeep would download
  from ``http://schemas.xmlsoap.org/soap/encoding/``; it is answered from the copy shipped
  beside this module. No other document than the WSDL itself is fetched.
* zeep's own transport logs every request and response body at DEBUG: the request holds the
  ``secret_key`` (and passwords on create), the answer's nusoap debug comment echoes them.
  ``post`` is replaced by one that logs the address, sizes and status only.
"""

from __future__ import annotations

import logging
from importlib import resources

import requests
from zeep.transports import Transport

SOAP_ENC_NS = "http://schemas.xmlsoap.org/soap/encoding/"
log = logging.getLogger(__name__)


class DocumentRefused(Exception):
    """The WSDL refers to a document this client will not fetch."""

    def __init__(self, url: str) -> None:
        super().__init__(f"the WSDL refers to {url}, which is not fetched (only the WSDL is)")
        self.url = url


def soap_encoding_schema() -> bytes:
    return resources.files("sync.chamilo").joinpath("soap-encoding.xsd").read_bytes()


class ChamiloTransport(Transport):
    """A zeep transport that fetches only ``wsdl_url`` and never logs a body."""

    def __init__(self, wsdl_url: str, *, timeout: float, verify_tls: bool) -> None:
        session = requests.Session()
        session.verify = verify_tls
        super().__init__(timeout=timeout, operation_timeout=timeout, session=session)
        self.wsdl_url = wsdl_url
        self.logger = log

    def load(self, url: str) -> bytes:
        if url.rstrip("/") == SOAP_ENC_NS.rstrip("/"):
            return soap_encoding_schema()
        if url != self.wsdl_url:
            raise DocumentRefused(url)
        return super().load(url)  # GET with raise_for_status(), or a local file

    def post(self, address: str, message: bytes | str, headers: dict) -> requests.Response:
        action = headers.get("SOAPAction", "").strip('"').rpartition("#")[2]
        log.debug("POST %s %s (%d bytes)", address, action, len(message))
        response = self.session.post(
            address, data=message, headers=headers, timeout=self.operation_timeout
        )
        log.debug("%s answered HTTP %d (%d bytes)", action, response.status_code, len(response.content))
        return response

    def close(self) -> None:
        self.session.close()
