"""Execute a plan against Chamilo: batches in apply order, up to ``concurrency`` in flight,
per-user outcomes recorded in the state store one transaction per batch.

Chamilo calls run in worker threads; the state store is only touched from the calling thread.
Before a batch is sent its keys are written to the journal; the batch's ``record`` closes the
journal entry in the same transaction, so a crash leaves an open entry that the next run
settles by looking the keys up (``sync.settle``).

A failed call (its fate unknown after the client's own retries, or refused by a SOAP fault
other than the key fault):

* **update, enable, disable** (idempotent): the batch is split in two halves, each sent
  again, down to single users, so one user who makes every call fail cannot block the
  others; the single user left is ``unknown`` (or ``failed`` for a fault). Splitting stops
  once ``split_limit`` calls in a row have failed with no success in between (by default
  twice the depth of the halving of a full batch, plus 2: enough to isolate a bad user
  wherever it sits): Chamilo itself is in trouble, and halving every batch down to single
  users would multiply the calls by two (the rest is reported as is).
* **create**: never re-sent in the same run. Each key is looked up (WSGetUser): an account
  that exists is adopted and edited; the others are ``unknown`` and their journal entry stays
  open. The next run settles that entry first and sends those keys one per call
  (``ExecOptions.alone``), so a user whose create keeps failing cannot block the others
  twice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from sync import failpoints
from sync.errors import ChamiloError, KeyRefused, RunAborted, SyncError, TransientError
from sync.model import Action, Change, ItemResult, Outcome, Plan, Status, UserPayload
from sync.outcomes import Interpreter, Settled
from sync.payloads import payload_for
from sync.planner import Batch, batches
from sync.ports import ChamiloClient

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class ExecOptions:
    """``alone``: case-folded keys whose creates are sent one per call; ``split_limit``:
    failed calls in a row after which batches are not split (``None``: from ``batch_size``).
    See the module docstring."""

    batch_size: int = 100
    concurrency: int = 2
    split_failed_batches: bool = True
    alone: frozenset[str] = frozenset()
    split_limit: int | None = None

    def failures_before_no_split(self) -> int:
        if self.split_limit is not None:
            return self.split_limit
        return 2 * max(1, self.batch_size).bit_length() + 2


class Executor:
    def __init__(self, client: ChamiloClient, store, run_id: int, interpreter: Interpreter,
                 passwords: Mapping[str, str], options: ExecOptions,
                 on_batch: Callable[[Batch, list[Outcome]], None] | None = None) -> None:
        self.client = client
        self.store = store
        self.run_id = run_id
        self.interpret = interpreter
        self.passwords = passwords
        self.options = options
        self.on_batch = on_batch or (lambda batch, outcomes: None)
        self.outcomes: list[Outcome] = []
        self.stopping = False  # set by a signal handler: finish the batches in flight, send no more
        self._failures_in_a_row = 0
        self._failures_lock = threading.Lock()

    def execute(self, plan: Plan) -> list[Outcome]:
        with ThreadPoolExecutor(max_workers=max(1, self.options.concurrency),
                                thread_name_prefix="chamilo") as pool:
            for action, action_batches in batches(plan, self.options.batch_size):
                if action is Action.CREATE and self.options.alone:
                    action_batches = self._isolate(action_batches)
                self._run_action(pool, action_batches)
                if self.stopping:
                    break
        return self.outcomes

    def _isolate(self, todo: list[Batch]) -> list[Batch]:
        """Creates of ``alone`` keys one per batch, after the others (batched as planned)."""
        changes = [c for b in todo for c in b.changes]
        alone = [c for c in changes if c.key.casefold() in self.options.alone]
        rest = [c for c in changes if c.key.casefold() not in self.options.alone]
        size = self.options.batch_size
        if alone:
            log.info("sending %d create(s) one per call: their last attempt did not succeed",
                     len(alone))
        return ([Batch(Action.CREATE, tuple(rest[i:i + size])) for i in range(0, len(rest), size)]
                + [Batch(Action.CREATE, (c,)) for c in alone])

    def _run_action(self, pool: ThreadPoolExecutor, todo: list[Batch]) -> None:
        pending: dict[Future, tuple[Batch, int]] = {}
        queue = list(todo)
        try:
            while queue or pending:
                while queue and len(pending) < self.options.concurrency and not self.stopping:
                    batch = queue.pop(0)
                    journal_id = self.store.journal_open(self.run_id, batch.action.value, batch.keys)
                    failpoints.reach("before-batch")
                    pending[pool.submit(self._send, batch)] = (batch, journal_id)
                if not pending:
                    break
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    batch, journal_id = pending.pop(future)
                    settled = future.result()
                    failpoints.reach("after-answer")
                    self._record(batch, settled, journal_id)
                    failpoints.reach("after-record")
        except KeyRefused:
            for future in pending:
                future.cancel()
            if self.outcomes:
                raise RunAborted("Chamilo refused the security key in the middle of the run; "
                                 "what was applied before is recorded",
                                 hint="check [chamilo] client_ip and the security key") from None
            raise

    def _record(self, batch: Batch, settled: list[Settled], journal_id: int) -> None:
        pairs = [pair for _, pair in settled if pair is not None]
        unknown = any(o.status is Status.UNKNOWN for o, _ in settled)
        # An unknown create stays in the journal: the next run looks it up before planning.
        close = None if (unknown and batch.action is Action.CREATE) else journal_id
        try:
            self.store.record(pairs, journal_id=close)
        except SyncError as exc:
            raise RunAborted(f"could not record a {batch.action.value} batch in the state store: "
                             f"{exc}; its journal entry lets the next run settle it") from None
        outcomes = [o for o, _ in settled]
        self.outcomes.extend(outcomes)
        self.on_batch(batch, outcomes)

    # -- worker side ----------------------------------------------------------------------------
    def _send(self, batch: Batch) -> list[Settled]:
        try:
            results = self._call(batch)
        except KeyRefused:
            raise
        except (TransientError, ChamiloError) as exc:
            self._count_failure(True)
            return self._after_failure(batch, exc)
        self._count_failure(False)
        if len(results) != len(batch.changes):
            msg = (f"Chamilo answered {len(results)} results for {len(batch.changes)} users; "
                   "the batch's fate is unknown")
            return [(Outcome(c.action, c.key, Status.UNKNOWN, message=msg), None) for c in batch.changes]
        return [self.interpret.result(change, item) for change, item in zip(batch.changes, results)]

    def _call(self, batch: Batch) -> list[ItemResult]:
        changes = batch.changes
        if batch.action is Action.CREATE:
            return self.client.create_users([self._payload(c, with_password=True) for c in changes])
        if batch.action is Action.UPDATE:
            return self.client.edit_users([self._payload(c) for c in changes])
        if batch.action is Action.ENABLE:
            return self.client.enable_users([c.key for c in changes])
        return self.client.disable_users([c.key for c in changes])

    def _count_failure(self, failed: bool) -> None:
        with self._failures_lock:
            self._failures_in_a_row = self._failures_in_a_row + 1 if failed else 0

    def _may_split(self, batch: Batch) -> bool:
        with self._failures_lock:
            calm = self._failures_in_a_row < self.options.failures_before_no_split()
        return len(batch.changes) > 1 and self.options.split_failed_batches and calm

    def _after_failure(self, batch: Batch, exc: Exception) -> list[Settled]:
        if batch.action is Action.CREATE:
            # Never re-send a create whose fate is unknown (a refused call's answer may not
            # have been readable either): look each key up instead.
            return self.interpret.settle_creates(batch.changes, str(exc))
        if self._may_split(batch):
            half = len(batch.changes) // 2
            log.warning("%s batch of %d failed (%s); retrying it in two halves",
                        batch.action.value, len(batch.changes), exc)
            return (self._send(Batch(batch.action, batch.changes[:half]))
                    + self._send(Batch(batch.action, batch.changes[half:])))
        if isinstance(exc, TransientError):
            return [(Outcome(c.action, c.key, Status.UNKNOWN,
                             message=f"{exc}; the next run settles it"), None)
                    for c in batch.changes]
        return [(Outcome(c.action, c.key, Status.FAILED, message=str(exc)), None)
                for c in batch.changes]

    def _payload(self, change: Change, with_password: bool = False) -> UserPayload:
        return payload_for(change, self.passwords.get(change.key) if with_password else None,
                           with_password)
