"""Bounded retries with exponential backoff and jitter, for calls whose failure is classified.

The caller classifies every exception into a :class:`Failure`; this module only decides
whether to try again and how long to wait. Nothing here knows about SOAP.
"""

from __future__ import annotations

import enum
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


class Failure(enum.Enum):
    NOT_SENT = "not sent"  # provably never reached the server (refused, DNS, connect timeout)
    UNKNOWN = "unknown"  # may have been applied (timeout, 5xx, dropped, garbage answer)
    FATAL = "fatal"  # retrying cannot help (key refused, fault, 4xx, TLS)


@dataclass(frozen=True)
class Classified:
    """An exception after classification: ``error`` is what to raise when giving up."""

    failure: Failure
    reason: str
    error: BaseException


@dataclass(frozen=True)
class RetryPolicy:
    """``retries`` extra attempts at most, waits ``backoff * 2**n`` (half of it jittered),
    and no new attempt once ``max_seconds`` would be exceeded."""

    retries: int = 3
    backoff: float = 0.5
    max_seconds: float = 60.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)
    rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    def delay(self, attempt: int) -> float:
        """Wait before retry number ``attempt`` (1-based): equal jitter."""
        base = self.backoff * (2 ** (attempt - 1))
        return base / 2 + self.rng.uniform(0, base / 2)


def call_with_retries(
    call: Callable[[], T],
    classify: Callable[[BaseException], Classified],
    policy: RetryPolicy,
    *,
    repeatable: bool,
    what: str,
) -> T:
    """Run ``call``; retry NOT_SENT failures always and UNKNOWN ones only if ``repeatable``.

    When giving up, raises the ``error`` of the last classification. ``what`` names the call
    in log lines (never any payload).
    """
    started = time.monotonic()
    attempt = 0
    while True:
        try:
            return call()
        except Exception as exc:  # classified below; unknown kinds are re-raised by classify
            outcome = classify(exc)
        if outcome.failure is Failure.FATAL:
            raise outcome.error
        may_retry = outcome.failure is Failure.NOT_SENT or repeatable
        attempt += 1
        wait = policy.delay(attempt)
        elapsed = time.monotonic() - started
        if not may_retry or attempt > policy.retries or elapsed + wait > policy.max_seconds:
            log.warning("%s failed (%s); giving up after %d attempt(s)", what, outcome.reason, attempt)
            raise outcome.error
        log.warning("%s failed (%s); retry %d/%d in %.2fs", what, outcome.reason, attempt,
                    policy.retries, wait)
        policy.sleep(wait)
