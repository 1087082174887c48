"""A consumer's progress in its log: one line every few seconds, not one per batch.

>>> lines = []
>>> progress = Progress(lambda event, **fields: lines.append((event, fields)), "scored", every_s=0)
>>> progress.batch([object()] * 3, 0.0125)
>>> lines[0][0], lines[0][1]["batch"], lines[0][1]["batch_ms"]
('scored', 3, 12.5)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sized
from typing import Any


class Progress:
    """Every ``every_s``: the rate since the last line, the last batch's size and time, and ``details()``."""

    def __init__(
        self,
        write: Callable[..., Any],
        event: str,
        details: Callable[[], dict[str, Any]] = dict,
        every_s: float = 10.0,
    ) -> None:
        self.write = write  # e.g. a structlog logger's ``info``
        self.event = event
        self.details = details
        self.every_s = every_s
        self.since = time.monotonic()
        self.count = 0

    def batch(self, records: Sized, seconds: float) -> None:
        """The loop's ``on_batch``: a batch of ``records`` was committed ``seconds`` after it was polled."""
        self.count += len(records)
        now = time.monotonic()
        if now - self.since < self.every_s:
            return
        self.write(
            self.event,
            rate=round(self.count / max(now - self.since, 1e-9)),
            batch=len(records),
            batch_ms=round(seconds * 1000, 1),
            **self.details(),
        )
        self.since, self.count = now, 0


def timings_ms(timings: dict[str, float]) -> dict[str, float]:
    """A batch's stage timings (seconds) as log fields: ``{"features_ms": 12.3, ...}``."""
    return {f"{name}_ms": round(seconds * 1000, 1) for name, seconds in timings.items()}
