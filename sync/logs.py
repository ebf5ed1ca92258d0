"""Logging set-up: text or JSON lines on stderr, with secrets masked as a last line of defence.

Libraries that log request bodies at DEBUG (zeep's transport, urllib3, ldap3) are capped at
WARNING whatever ``--log-level`` says: a SOAP body carries the derived secret and passwords.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone

_SECRETS: set[str] = set()
_FORMAT = {"format": "text"}
_NOISY = ("zeep", "zeep.transports", "zeep.wsdl", "zeep.xsd", "urllib3", "requests", "ldap3",
          "apscheduler.executors", "sqlalchemy.engine")


def register_secret(value: str | None) -> None:
    """Mask this value in every log line from now on."""
    if value and len(value) >= 4:
        _SECRETS.add(value)


def mask(text: str) -> str:
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, "***")
    return text


class _MaskingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if _SECRETS:
            record.msg = mask(record.getMessage())
            record.args = ()
        return True


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            out["exception"] = mask(self.formatException(record.exc_info))
        return json.dumps(out, ensure_ascii=False)


def log_format() -> str:
    """``text`` or ``json``: how the final error message must look too."""
    return _FORMAT["format"]


def error_line(message: str, hint: str = "") -> str:
    """The message that ends a failed command, as a JSON log line (``--log-format json``)."""
    out = {"time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
           "level": "error", "logger": "sync", "message": mask(message)}
    if hint:
        out["hint"] = mask(hint)
    return json.dumps(out, ensure_ascii=False)


def setup_logging(level: str = "info", fmt: str = "text", stream=None) -> None:
    _FORMAT["format"] = fmt
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_chamilo_sync", False):
            root.removeHandler(h)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler._chamilo_sync = True  # type: ignore[attr-defined]
    handler.addFilter(_MaskingFilter())
    if fmt == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in _NOISY:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
