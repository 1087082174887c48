"""Re-sending recent output after the broker lost it.

When the broker loses a topic (the embedded one keeps nothing across a restart), what it held
and nobody had read yet is gone; the embedded broker even acknowledges writes made just after
it restarts, before the topics are recreated, and then drops them. So each producer of the
pipeline keeps what it sent in the last ``window_s`` seconds (references to the bytes already
built, at most ``max_messages``) and, once a :class:`~fraudcore.stream.broker_watch.BrokerWatch`
reports the topics lost (and recreated), sends that window again: the simulator its
``transactions``, the scoring consumer its ``fraud`` and ``legit``. Every reader stores a
transaction once whatever number of times it arrives (the scorer finds a re-sent transaction
in MongoDB and re-routes the stored result instead of scoring it again; PostgreSQL has
``ON CONFLICT (tx_id) DO NOTHING``, the live counters count only new rows), so re-sending is
safe. What a reader had not read and is older than the window is still lost; the readers'
offset trackers report what they knew was unread.

>>> class Sent(list):
...     def send(self, topic, key=None, value=None): self.append((topic, value))
...     def flush(self, timeout=None): pass
>>> broker = Sent()
>>> out = ResendingProducer(broker, {"fraud", "legit"}, window_s=60, max_messages=1000, log_resends=False)
>>> out.send("legit", b"k", b"1"); out.send("dead-letters", b"k", b"x"); out.flush()
>>> out.lost(["legit"])  # the broker lost the topic (called from the BrokerWatch thread)
>>> out.send("fraud", b"k", b"2"); out.flush()
>>> broker
[('legit', b'1'), ('dead-letters', b'x'), ('fraud', b'2'), ('legit', b'1'), ('fraud', b'2')]
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from prometheus_client import Counter

from fraudcore.logging import get_logger

log = get_logger("stream")
RESENT = Counter(
    "fraud_output_resent", "Messages re-sent because the broker lost the topic they were on", ["topic"]
)


class Producer(Protocol):
    def send(self, topic: str, key: bytes | None = None, value: bytes | None = None) -> Any: ...

    def flush(self, timeout: float | None = None) -> None: ...


class ResendingProducer:
    """A producer that remembers its recent output on ``topics`` and sends it again after a loss."""

    def __init__(
        self,
        producer: Producer,
        topics: Iterable[str],
        window_s: float,
        max_messages: int,
        clock: Callable[[], float] = time.monotonic,
        log_resends: bool = True,
    ) -> None:
        self.log_resends = log_resends
        self.producer = producer
        self.topics = frozenset(topics)
        self.window_s = window_s
        self.clock = clock
        self._recent: deque[tuple[float, str, bytes | None, bytes | None]] = deque(
            maxlen=max(1, max_messages)
        )
        self._keep = window_s > 0 and max_messages > 0
        self._lost = threading.Event()

    def send(self, topic: str, key: bytes | None = None, value: bytes | None = None) -> Any:
        sent = self.producer.send(topic, key=key, value=value)
        if self._keep and topic in self.topics:
            self._recent.append((self.clock(), topic, key, value))
        return sent  # the client's own handle (kafka-python: a future), for callers that watch delivery

    def flush(self, timeout: float | None = None) -> None:
        """Send the kept window again if a loss was reported since the last flush, then flush."""
        self.resend_if_lost()
        self.producer.flush(timeout)

    def resend_if_lost(self) -> int:
        """Send the kept window again if a loss was reported since the last call; how many were sent.

        Call it from the thread that sends (a producer that never flushes calls it in its loop).
        """
        if not self._lost.is_set():
            return 0
        self._lost.clear()
        return self._resend()

    def lost(self, topics: list[str]) -> None:
        """The broker lost ``topics`` (safe to call from any thread): the next flush re-sends."""
        if self._keep and self.topics.intersection(topics):
            self._lost.set()

    def close(self, timeout: float = 10.0) -> None:
        close = getattr(self.producer, "close", None)
        if close is not None:
            close(timeout=timeout)

    def _resend(self) -> int:
        since = self.clock() - self.window_s
        again = [m for m in self._recent if m[0] >= since]
        for _, topic, key, value in again:
            self.producer.send(topic, key=key, value=value)
            RESENT.labels(topic).inc()
        if self.log_resends:
            log.warning(
                "the broker lost the output topics: sent the recent output again (stored once downstream)",
                messages=len(again),
                window_s=self.window_s,
                topics=sorted({m[1] for m in again}),
            )
        return len(again)
