"""What a failed SOAP call means, and which ``sync.errors`` class says it.

Classification (see ``retry.Failure``):

* provably not sent — connection refused, name resolution failure, connect timeout: retried for
  every operation; when retries are exhausted, ``ChamiloError`` (Chamilo unreachable).
* fate unknown — read timeout, HTTP 5xx, connection dropped or reset, a body that is not a SOAP
  envelope: retried only for repeatable operations; then ``TransientError``.
* fatal — the 'Secret key is not correct' fault (``KeyRefused``), any other fault, HTTP 4xx,
  TLS failures, a malformed URL (``ChamiloError``).

Messages name the URL and operation, never a body: zeep's ``TransportError`` text embeds the
response content, which may echo the secret key (nusoap's debug comment).
"""

from __future__ import annotations

import requests
import urllib3.exceptions
import zeep.exceptions

from sync.chamilo.retry import Classified, Failure
from sync.errors import ChamiloError, KeyRefused, TransientError

KEY_FAULT = "Secret key is not correct"


def key_refused(url: str, client_ip: str) -> KeyRefused:
    return KeyRefused(
        f"Chamilo at {url} refused the secret key: check [chamilo] client_ip ({client_ip!r}) "
        "and the security key. client_ip must be the address Chamilo sees for this host; "
        "behind a proxy or NAT Chamilo uses the first X-Forwarded-For entry instead",
        hint=(
            "The secret sent is sha1(client_ip + security key). The key must equal "
            "$_configuration['security_key'] in Chamilo's app/config/configuration.php; "
            "client_ip must be REMOTE_ADDR as Chamilo's PHP sees it, or the first "
            "X-Forwarded-For entry when a proxy adds that header (IPv6: PHP's textual form)."
        ),
    )


def _never_reached(exc: requests.exceptions.ConnectionError) -> bool:
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)  # MaxRetryError wraps the cause
    return isinstance(reason, urllib3.exceptions.NewConnectionError)  # refused, DNS


def classify(exc: BaseException, *, url: str, client_ip: str, operation: str) -> Classified:
    """Classify an exception raised by a zeep call (or a WSDL load, ``operation="WSDL"``)."""
    where = f"{operation} at {url}"

    def unknown(reason: str) -> Classified:
        return Classified(Failure.UNKNOWN, reason, TransientError(f"{where}: {reason}"))

    def fatal(reason: str, error: BaseException | None = None) -> Classified:
        return Classified(Failure.FATAL, reason, error or ChamiloError(f"{where}: {reason}"))

    if isinstance(exc, zeep.exceptions.Fault):
        text = str(exc.message or "")
        if KEY_FAULT in text:
            return fatal("secret key refused", key_refused(url, client_ip))
        return fatal(f"SOAP fault {exc.code or ''} {text[:200]!r}".replace("  ", " "))
    if isinstance(exc, zeep.exceptions.TransportError):
        status = exc.status_code or 0
        if status >= 500 or status == 200:
            return unknown(f"HTTP {status} without a SOAP answer")
        return fatal(f"HTTP {status}: is [chamilo] url the registration.soap.php endpoint?")
    if isinstance(exc, requests.exceptions.HTTPError):  # WSDL GET: raise_for_status()
        status = exc.response.status_code if exc.response is not None else 0
        if status >= 500:
            return unknown(f"HTTP {status}")
        return fatal(f"HTTP {status}: is [chamilo] url the registration.soap.php endpoint?")
    if isinstance(exc, zeep.exceptions.XMLSyntaxError):
        return unknown("the answer is not a SOAP envelope")
    if isinstance(exc, requests.exceptions.SSLError):
        return fatal("TLS failure (certificate not trusted? see [chamilo] verify_tls)")
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return Classified(Failure.NOT_SENT, "connect timeout",
                          ChamiloError(f"{where}: Chamilo unreachable (connect timeout)"))
    if isinstance(exc, requests.exceptions.Timeout):
        return unknown("no answer before the timeout")
    if isinstance(exc, requests.exceptions.ConnectionError):
        if _never_reached(exc):
            return Classified(Failure.NOT_SENT, "connection refused or host unknown",
                              ChamiloError(f"{where}: Chamilo unreachable (connection refused "
                                           "or host unknown)"))
        return unknown("connection dropped")
    if isinstance(exc, (requests.exceptions.ChunkedEncodingError,
                        requests.exceptions.ContentDecodingError)):
        return unknown("connection dropped during the answer")
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema
                  | requests.exceptions.InvalidSchema):
        return fatal("invalid URL")
    if isinstance(exc, requests.exceptions.RequestException):
        return unknown(type(exc).__name__)
    raise exc
