"""``ChamiloClient`` over Chamilo's ``registration.soap.php`` (rpc/encoded SOAP, via zeep).

What it takes care of (API.md §7 trip-wires):

* loads the WSDL from ``url + "?wsdl"`` and nothing else (the SOAP-ENC schema is shipped), and
  binds the service to the configured ``url``, whatever ``soap:address`` the WSDL advertises;
* marks every array as a SOAP-ENC array (``soap_arrays.ArrayMarker``), sends
  ``secret_key = sha1(client_ip + security_key)``, omits absent optional elements;
* ``loginname`` on create, ``username`` on edit; the password only on create;
* retries what may be retried (``soap_failures``, ``retry``) and never logs a body.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import requests
import zeep
import zeep.exceptions
from lxml import etree
from zeep.xsd import SkipValue

from sync.chamilo.wire_fields import CREATE_FIELDS, EDIT_FIELDS, require_edit_fields, split_fields
from sync.chamilo.retry import Classified, Failure, RetryPolicy, call_with_retries
from sync.chamilo.secret import derive_secret_key
from sync.chamilo.soap_arrays import TNS, ArrayMarker
from sync.chamilo.soap_failures import classify
from sync.chamilo.soap_transport import ChamiloTransport, DocumentRefused
from sync.errors import ChamiloError, TransientError
from sync.model import ChamiloUser, ItemResult, UserPayload

log = logging.getLogger(__name__)

BINDING = f"{{{TNS}}}WSRegistrationBinding"
OPERATIONS = ("WSCreateUsers", "WSEditUsers", "WSEnableUsers", "WSDisableUsers", "WSGetUser")
CHECK_KEY_PREFIX = "chamilo-sync-check-"


class SoapChamiloClient:
    """The real :class:`sync.ports.ChamiloClient`.

    ``create_users`` is never repeated once the request may have reached Chamilo (a timed-out
    create may have been applied): it raises ``TransientError`` at once and the caller settles
    the users with ``get_user``. The other calls are repeated up to ``retries`` times.
    """

    def __init__(self, url: str, security_key: str, client_ip: str, original_user_id_name: str,
                 *, timeout: float = 60, verify_tls: bool = True, retries: int = 3,
                 backoff: float = 0.5, max_retry_seconds: float = 60) -> None:
        self.url = url
        self.wsdl_url = url + "?wsdl"
        self.client_ip = client_ip
        self.original_user_id_name = original_user_id_name
        self._secret = derive_secret_key(client_ip, security_key)  # the key itself is not kept
        self._timeout = timeout
        self._verify_tls = verify_tls
        self._policy = RetryPolicy(retries=retries, backoff=backoff, max_seconds=max_retry_seconds)
        self._lock = threading.Lock()
        self._transport: ChamiloTransport | None = None
        self._service: Any = None
        self._types: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"SoapChamiloClient(url={self.url!r}, client_ip={self.client_ip!r})"

    # -- WSDL --------------------------------------------------------------------------------
    def _ensure_loaded(self) -> None:
        with self._lock:
            if self._service is None:
                call_with_retries(self._load, self._classify_wsdl, self._policy,
                                  repeatable=True, what=f"loading the WSDL from {self.wsdl_url}")

    def _load(self) -> None:
        transport = ChamiloTransport(self.wsdl_url, timeout=self._timeout, verify_tls=self._verify_tls)
        try:
            client = zeep.Client(self.wsdl_url, transport=transport, plugins=[ArrayMarker()],
                                 settings=zeep.Settings(xml_huge_tree=True))
            service = client.create_service(BINDING, self.url)
            missing = [op for op in OPERATIONS if not _has_operation(service, op)]
            types = {name: client.get_type(f"{{{TNS}}}{name}") for name in (
                "usersParams", "usersParamsList", "editUsersParams", "editUsersParamsList",
                "extras", "extrasList", "user_id", "user_ids_array")}
        except BaseException:
            transport.close()
            raise
        if missing:
            transport.close()
            raise ChamiloError(f"the WSDL at {self.wsdl_url} lacks {', '.join(missing)}")
        self._transport, self._service, self._types = transport, service, types

    def _classify_wsdl(self, exc: BaseException) -> Classified:
        def unusable(reason: str) -> Classified:
            return Classified(Failure.FATAL, reason,
                              ChamiloError(f"cannot use the WSDL at {self.wsdl_url}: {reason}"))

        if isinstance(exc, ChamiloError):
            return Classified(Failure.FATAL, exc.message, exc)
        if isinstance(exc, DocumentRefused):
            return unusable(str(exc))
        if isinstance(exc, (zeep.exceptions.XMLParseError, zeep.exceptions.LookupError,
                            zeep.exceptions.WsdlSyntaxError, etree.XMLSyntaxError, ValueError)
                      ) and not isinstance(exc, requests.RequestException):
            return unusable(f"not a usable Chamilo WSDL ({type(exc).__name__})")
        outcome = classify(exc, url=self.wsdl_url, client_ip=self.client_ip, operation="WSDL")
        if isinstance(outcome.error, TransientError):  # nothing was sent: Chamilo is unusable
            return Classified(outcome.failure, outcome.reason, ChamiloError(
                f"cannot load the WSDL from {self.wsdl_url}: {outcome.reason}"))
        return outcome

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    # -- calls -------------------------------------------------------------------------------
    def _call(self, operation: str, repeatable: bool, **parts: Any) -> Any:
        self._ensure_loaded()
        method: Callable[..., Any] = getattr(self._service, operation)

        def classify_call(exc: BaseException) -> Classified:
            return classify(exc, url=self.url, client_ip=self.client_ip, operation=operation)

        return call_with_retries(lambda: method(**parts), classify_call, self._policy,
                                 repeatable=repeatable, what=f"{operation} at {self.url}")

    def _batch(self, operation: str, keys: list[str], answer: Any, *,
               may_be_empty: bool) -> list[ItemResult]:
        if answer is None:
            if may_be_empty:  # Chamilo 1.9: enable/disable return nothing
                return [ItemResult(key, None) for key in keys]
            raise ChamiloError(f"{operation} at {self.url} answered no results")
        rows = list(answer)
        if len(rows) != len(keys):
            raise ChamiloError(f"{operation} at {self.url} answered {len(rows)} results for "
                               f"{len(keys)} users")
        results = []
        for key, row in zip(keys, rows):
            if row.original_user_id_value is not None and str(row.original_user_id_value) != key:
                raise ChamiloError(f"{operation} at {self.url}: results out of order "
                                   f"(expected {key!r}, got {row.original_user_id_value!r})")
            results.append(ItemResult(key, None if row.result is None else str(row.result)))
        return results

    def create_users(self, users: Sequence[UserPayload]) -> list[ItemResult]:
        if not users:
            return []
        self._ensure_loaded()
        items = [self._user_item("usersParams", CREATE_FIELDS, u, with_password=True) for u in users]
        answer = self._call("WSCreateUsers", False, createUsers={
            "users": self._types["usersParamsList"](items), "secret_key": self._secret})
        return self._batch("WSCreateUsers", [u.key for u in users], answer, may_be_empty=False)

    def edit_users(self, users: Sequence[UserPayload]) -> list[ItemResult]:
        """WSEditUsers. Chamilo writes ``username``, ``email``, ``status`` and ``phone`` on every
        edit, so the payload must carry the intended values of the first three (``ValueError``
        otherwise; an absent phone is cleared). ``expiration_date`` is sent only when present
        and non-empty: **omitting it clears the account's expiry** (an empty string would crash
        Chamilo). ``language`` cannot be edited and is not sent; no password is ever sent."""
        if not users:
            return []
        require_edit_fields(users)
        self._ensure_loaded()
        items = [self._user_item("editUsersParams", EDIT_FIELDS, u, with_password=False) for u in users]
        answer = self._call("WSEditUsers", True, editUsers={
            "users": self._types["editUsersParamsList"](items), "secret_key": self._secret})
        return self._batch("WSEditUsers", [u.key for u in users], answer, may_be_empty=False)

    def enable_users(self, keys: Sequence[str]) -> list[ItemResult]:
        return self._action("WSEnableUsers", keys)

    def disable_users(self, keys: Sequence[str]) -> list[ItemResult]:
        return self._action("WSDisableUsers", keys)

    def _action(self, operation: str, keys: Sequence[str]) -> list[ItemResult]:
        if not keys:
            return []
        self._ensure_loaded()
        ids = [self._types["user_id"](original_user_id_value=k,
                                      original_user_id_name=self.original_user_id_name) for k in keys]
        answer = self._call(operation, True, user_ids={
            "ids": self._types["user_ids_array"](ids), "secret_key": self._secret})
        return self._batch(operation, list(keys), answer, may_be_empty=True)

    def get_user(self, key: str) -> ChamiloUser | None:
        answer = self._call("WSGetUser", True, GetUser={
            "original_user_id_value": key, "original_user_id_name": self.original_user_id_name,
            "secret_key": self._secret})
        user_id = None if answer is None else answer.user_id
        if user_id in (None, "", "0"):
            return None
        try:
            number = int(user_id)
        except (TypeError, ValueError):
            raise ChamiloError(f"WSGetUser at {self.url} answered user_id {user_id!r}") from None
        return ChamiloUser(number, answer.firstname or "", answer.lastname or "")

    def check(self) -> None:
        """Load the WSDL and prove the key with WSGetUser on a key that cannot exist."""
        self._ensure_loaded()
        self.get_user(CHECK_KEY_PREFIX + uuid.uuid4().hex)

    # -- payloads ----------------------------------------------------------------------------
    def _user_item(self, type_name: str, names: Mapping[str, str], user: UserPayload,
                   *, with_password: bool) -> Any:
        item_type = self._types[type_name]
        values: dict[str, Any] = {name: SkipValue for name, _ in item_type.elements}
        fields, extras = split_fields(user)
        for field, value in fields.items():
            if field not in names:  # language on edit: not editable
                continue
            if value is None or (field == "expiration_date" and value == ""):
                continue  # omitted (on edit: clears the expiry)
            values[names[field]] = str(value)
        if with_password and user.password is not None:
            values["password"] = user.password
        values["original_user_id_name"] = self.original_user_id_name
        values["original_user_id_value"] = user.key
        if extras:
            values["extra"] = self._types["extrasList"]([
                self._types["extras"](field_name=name, field_value=value)
                for name, value in extras.items()])
        return item_type(**values)


def _has_operation(service: Any, operation: str) -> bool:
    try:
        getattr(service, operation)
    except AttributeError:
        return False
    return True
