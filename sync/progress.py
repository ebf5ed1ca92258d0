"""Progress of an apply: a live line on a terminal, plain log lines otherwise."""

from __future__ import annotations

import logging
from collections import Counter

log = logging.getLogger("sync.progress")


class Progress:
    def __init__(self, stream) -> None:
        self.stream = stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.done: Counter = Counter()

    def __call__(self, batch, outcomes) -> None:
        for o in outcomes:
            self.done[(batch.action.value, o.status.value)] += 1
        applied = sum(n for (a, s), n in self.done.items() if a == batch.action.value and s == "applied")
        others = sum(n for (a, s), n in self.done.items() if a == batch.action.value and s != "applied")
        line = f"{batch.action.value}: {applied} applied" + (f", {others} not applied" if others else "")
        if self.tty:
            self.stream.write("\r\x1b[K" + line)
            self.stream.flush()
        else:
            log.info("batch of %d %s done (%s)", len(outcomes), batch.action.value, line)

    def close(self) -> None:
        if self.tty and self.done:
            self.stream.write("\n")
