"""``InMemoryChamilo``: a fake ``ChamiloClient`` with Chamilo 1.11.6's user semantics.

It behaves as :class:`sync.chamilo.soap_client.SoapChamiloClient` does against a real server
(API.md §3-§5), as the shared contract tests check: create is not an upsert (active → ``"0"``,
inactive → re-activated and overwritten), logins are unique and compared case-insensitively,
original ids too; edit rejects unknown/disabled users and taken logins, writes username, email,
status and phone every time, clears the expiry when none is sent; extras are created on create
and only updated on edit; enable/disable answer ``"1"`` for any known user. Chamilo's crashes
(HTTP 500, e.g. a re-activation without ``expiration_date``) surface as ``TransientError``
after the earlier users of the batch were applied, like the real thing.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sync.chamilo.wire_fields import require_edit_fields, split_fields
from sync.errors import KeyRefused, TransientError
from sync.model import ChamiloUser, ItemResult, UserPayload

LANGUAGES = frozenset({"english", "spanish", "french", "german", "italian", "dutch", "portuguese",
                       "brazilian", "catalan", "basque", "galician", "polish", "russian", "arabic"})


class _Crash(Exception):
    """What would be a PHP fatal error (HTTP 500 without a SOAP body) in Chamilo."""


def _empty(value: str | None) -> bool:
    """PHP's ``empty()`` for the strings Chamilo receives."""
    return value in (None, "", "0")


def _hash(password: str) -> str:
    return hashlib.sha1(password.encode("utf-8")).hexdigest()


def _date(value: str, *, garbage_is_now: bool) -> str:
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        if not garbage_is_now:
            raise _Crash("unparsable expiration_date") from None
        parsed = datetime.now(UTC).replace(tzinfo=None)
    return parsed.strftime("%Y-%m-%d %H:%M:%S")


class InMemoryChamilo:
    """Fake Chamilo. ``refuse_key = True`` makes every call raise ``KeyRefused``;
    ``variant="1.9"`` makes enable/disable return ``None`` results and edit ``"1"``."""

    def __init__(self, original_user_id_name: str = "external_user_id", *,
                 variant: str = "1.11", platform_language: str = "english") -> None:
        self.original_user_id_name = original_user_id_name
        self.variant = variant
        self.platform_language = platform_language
        self.refuse_key = False
        self.calls: list[tuple[str, int]] = []
        self._users: dict[int, dict[str, Any]] = {}
        self._fields: dict[str, str] = {}  # lower-cased variable → variable
        self._values: list[tuple[int, str, str | None]] = []  # (user id, variable, value)
        self._next_id = 1
        self._lock = threading.Lock()

    # -- inspection and seeding (same shapes as the nusoap stand-in's controller) ------------
    def users(self) -> list[dict[str, Any]]:
        with self._lock:
            return [self._view(uid) for uid in sorted(self._users)]

    def user_by_key(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            uid = self._lookup(key, self.original_user_id_name, check_quotes=False)
            return self._view(uid) if uid else None

    def password_matches(self, key: str, password: str) -> bool:
        user = self.user_by_key(key)
        return user is not None and user["_password_hash"] == _hash(password)

    def add_user(self, key: str | None = None, *, username: str, firstname: str = "Pre",
                 lastname: str = "Existing", email: str | None = None, status: str = "5",
                 active: bool = True, phone: str | None = None, expiration_date: str | None = None,
                 language: str = "english", password: str = "secret",
                 extras: dict[str, str] | None = None, is_admin: bool = False) -> int:
        with self._lock:
            uid = self._insert(username=username, firstname=firstname, lastname=lastname,
                               email=email or f"{username}@example.org", status=status,
                               active=active, phone=phone, expiration_date=expiration_date,
                               language=language, password=_hash(password), is_admin=is_admin)
            values = dict(extras or {})
            if key is not None:
                values[self.original_user_id_name] = key
            for variable, value in values.items():
                self._fields.setdefault(variable.lower(), variable)
                self._set_value(uid, variable, value)
            return uid

    def add_extra_field(self, variable: str) -> None:
        with self._lock:
            self._fields.setdefault(variable.lower(), variable)

    def extra_fields(self) -> list[str]:
        with self._lock:
            return list(self._fields.values())

    # -- ChamiloClient -----------------------------------------------------------------------
    def create_users(self, users: Sequence[UserPayload]) -> list[ItemResult]:
        for u in users:
            split_fields(u)  # refuse unknown fields before anything is done, as the client does
        return self._batch("WSCreateUsers", users, self._create_one)

    def edit_users(self, users: Sequence[UserPayload]) -> list[ItemResult]:
        require_edit_fields(users)
        for u in users:
            split_fields(u)
        return self._batch("WSEditUsers", users, self._edit_one)

    def enable_users(self, keys: Sequence[str]) -> list[ItemResult]:
        return self._batch("WSEnableUsers", keys, lambda key: self._set_active(key, True))

    def disable_users(self, keys: Sequence[str]) -> list[ItemResult]:
        return self._batch("WSDisableUsers", keys, lambda key: self._set_active(key, False))

    def get_user(self, key: str) -> ChamiloUser | None:
        with self._lock:
            self._enter("WSGetUser", 1)
            uid = self._guard(lambda: self._lookup(key, self.original_user_id_name))
            if not uid:
                return None
            user = self._users[uid]
            return ChamiloUser(uid, user["firstname"] or "", user["lastname"] or "")

    def check(self) -> None:
        self.get_user("chamilo-sync-check")

    # -- semantics ---------------------------------------------------------------------------
    def _enter(self, operation: str, items: int) -> None:
        if self.refuse_key:
            raise KeyRefused("Chamilo (in memory) refused the secret key",
                             hint="check client_ip and the security key")
        self.calls.append((operation, items))

    def _guard(self, step):
        try:
            return step()
        except _Crash as exc:
            raise TransientError(f"Chamilo (in memory) crashed: {exc}") from None

    def _batch(self, operation: str, items: Sequence[Any], one) -> list[ItemResult]:
        if not items:
            return []
        with self._lock:
            self._enter(operation, len(items))
            results = []
            for item in items:
                key = item if isinstance(item, str) else item.key
                outcome = self._guard(lambda item=item: one(item))
                results.append(ItemResult(key, None if outcome is None else str(outcome)))
            return results

    def _create_one(self, u: UserPayload) -> int:
        fields, extras = split_fields(u)
        get = {k: (None if v is None else str(v)) for k, v in fields.items()}.get
        expiration = None if _empty(get("expiration_date")) else get("expiration_date")
        phone = "" if _empty(get("phone")) else get("phone")
        if get("email") is None:
            raise _Crash("email is NOT NULL")
        uid = self._lookup(u.key, self.original_user_id_name)
        if uid:
            user = self._users[uid]
            if user["active"]:
                return 0
            if expiration is None and self.variant != "1.9":
                raise _Crash("re-activation without expiration_date")
            login = get("loginname")
            if login is None or self._login_taken(login, uid):
                raise _Crash("username missing or not unique")
            user.update(lastname=get("lastname"), firstname=get("firstname"), username=login,
                        email=get("email"), status=get("status"), official_code="",
                        phone=phone, active=True,
                        expiration_date=_date(expiration, garbage_is_now=False) if expiration else None)
            if u.password is not None:
                user["password"] = _hash(u.password)
            return uid
        login = get("loginname")
        if not login or self._login_taken(login, 0) or not u.password:
            return 0
        language = (self.platform_language if _empty(get("language")) else get("language")).lower()
        uid = self._insert(
            username=login, firstname=get("firstname"), lastname=get("lastname"),
            email=get("email"), status=get("status"), active=True, phone=phone,
            expiration_date=_date(expiration, garbage_is_now=True) if expiration else None,
            language=language if language in LANGUAGES else self.platform_language,
            password=_hash(u.password), is_admin=False)
        for variable, value in [(self.original_user_id_name, u.key), *extras.items()]:
            self._fields.setdefault(variable.lower(), variable)
            self._set_value(uid, variable, value)
        return uid

    def _edit_one(self, u: UserPayload) -> int:
        fields, extras = split_fields(u)
        get = {k: (None if v is None else str(v)) for k, v in fields.items()}.get
        uid = self._lookup(u.key, self.original_user_id_name)
        if not uid or not self._users[uid]["active"]:
            return 0
        login = get("loginname") or ""
        self._check_quotes(login)
        if self._login_taken(login, uid):
            return 0
        user = self._users[uid]
        status = get("status")
        if self.variant != "1.9":
            status = "1" if user["is_admin"] else ("5" if _empty(status) else status)
        expiration = get("expiration_date") or None  # the client omits "" (clears the expiry)
        if expiration == "0" and self.variant != "1.9":
            raise _Crash("Doctrine cannot convert '0' to a datetime")
        for name in ("lastname", "firstname"):
            if not _empty(get(name)):
                user[name] = get(name)
        user.update(username=login, email=get("email"), status=status, official_code="",
                    phone=get("phone"), active=True,
                    expiration_date=_date(expiration, garbage_is_now=False) if expiration else None)
        for variable, value in extras.items():
            if variable.lower() in self._fields:
                self._set_value(uid, self._fields[variable.lower()], value)
        return 1 if self.variant == "1.9" else uid

    def _set_active(self, key: str, active: bool) -> int | None:
        uid = self._lookup(key, self.original_user_id_name)
        if uid:
            self._users[uid]["active"] = active
        if self.variant == "1.9":
            return None
        return 1 if uid else 0

    # -- storage -----------------------------------------------------------------------------
    @staticmethod
    def _check_quotes(value: str) -> None:
        if "'" in value:  # Chamilo concatenates it into SQL: error page instead of an answer
            raise _Crash("SQL error page")

    def _lookup(self, value: str, name: str, *, check_quotes: bool = True) -> int:
        if check_quotes:
            self._check_quotes(value)
            self._check_quotes(name)
        for uid, variable, stored in self._values:
            if variable.lower() == name.lower() and (stored or "").lower() == value.lower():
                if uid in self._users:
                    return uid
        return 0

    def _login_taken(self, login: str, except_id: int) -> bool:
        return any(u["username"].lower() == login.lower() and uid != except_id
                   for uid, u in self._users.items())

    def _insert(self, **values: Any) -> int:
        uid = self._next_id
        self._next_id += 1
        self._users[uid] = {"id": uid, "official_code": "", **values}
        return uid

    def _set_value(self, uid: int, variable: str, value: str | None) -> None:
        for i, (owner, existing, _) in enumerate(self._values):
            if owner == uid and existing.lower() == variable.lower():
                self._values[i] = (uid, existing, value)
                return
        self._values.append((uid, variable, value))

    def _view(self, uid: int) -> dict[str, Any]:
        user = dict(self._users[uid])
        user["_password_hash"] = user.pop("password")
        user["original_id"] = None
        user["extras"] = {}
        for owner, variable, value in self._values:
            if owner != uid:
                continue
            if variable.lower() == self.original_user_id_name.lower():
                user["original_id"] = value
            else:
                user["extras"][variable] = value
        return user
