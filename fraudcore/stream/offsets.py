"""Noticing that the broker lost a partition's log, how much of it was never read, and reading the new one.

A broker that restarts without its data (the embedded tansu broker keeps everything in
memory) comes back with empty topics and no committed offsets: the consumer starts the
partition again from offset 0. That is the only way a partition's offsets can go *below*
what this consumer has already committed on it: a rebalance hands a partition over at its
committed offset or later, never earlier. So the source tells this tracker what it
commits and what it reads, and the tracker reports each such restart as a
:class:`LostLog`: where the consumer was, where the broker's log ended when last seen, and
so how many messages were on the broker, never read, and are gone.

The embedded broker does not always say so: asked for an offset past the end of a new, short
log, it answers with nothing rather than "out of range", and the consumer would sit at its old
position until the new log grew past it, skipping everything before. So a
:class:`~fraudcore.stream.broker_watch.BrokerWatch` that sees a topic lost tells the tracker
(:meth:`OffsetTracker.topics_lost`, from its own thread); on its next poll the source asks
:meth:`OffsetTracker.rewind_due`, which reports the loss of each partition it was reading, and
moves its partitions of those topics to the new log's beginning.

The count is a lower bound: messages the broker took after the consumer's last fetch
response are unknown to the consumer.

>>> from fraudcore.stream.ports import Record
>>> lost = []
>>> tracker = OffsetTracker(lost.append, log_resets=False)
>>> tracker.read([Record("tx", 0, o, None, b"") for o in range(10)], high={("tx", 0): 15})
>>> tracker.committed({("tx", 0): 10})
>>> tracker.read([Record("tx", 0, 0, None, b"")], high={("tx", 0): 1})  # the broker came back empty
>>> lost[0].unread, lost[0].committed, lost[0].restarted_at
(5, 10, 0)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from prometheus_client import Counter

from fraudcore.logging import get_logger
from fraudcore.stream.ports import Record

log = get_logger("stream")
TopicPartition = tuple[str, int]
SETTLE_S = 60.0  # after a loss, tansu may serve the new log's start twice: that is one loss, not two

LOG_RESETS = Counter(
    "fraud_broker_log_resets",
    "Partitions whose log the broker lost (offsets restarted below what this consumer committed)",
    ["topic"],
)
LOST_UNREAD = Counter(
    "fraud_broker_lost_unread_messages",
    "Messages the broker held, this consumer had not read yet, and the broker then lost (a lower bound)",
    ["topic"],
)


@dataclass(frozen=True)
class LostLog:
    """One partition whose log the broker lost while this consumer was reading it."""

    topic: str
    partition: int
    committed: int  # this consumer's committed offset before the loss
    read_to: int  # the next offset it would have read
    broker_end: int  # the log's end, as the broker last reported it
    restarted_at: int  # the first offset read from the new log

    @property
    def unread(self) -> int:
        """Messages on the broker this consumer never read: lost with the log (at least this many)."""
        return max(0, self.broker_end - self.read_to)


class OffsetTracker:
    """Per partition: the committed offset, the next offset to read, and the broker's last-known end."""

    def __init__(self, on_lost: Callable[[LostLog], None] | None = None, log_resets: bool = True) -> None:
        self.on_lost = on_lost
        self.log_resets = log_resets
        self._committed: dict[TopicPartition, int] = {}
        self._next: dict[TopicPartition, int] = {}
        self._end: dict[TopicPartition, int] = {}
        self._reset_at: dict[TopicPartition, float] = {}
        self._lost_topics: set[str] = set()
        self._lock = threading.Lock()
        self.lost: list[LostLog] = []

    def read(self, records: Iterable[Record], high: Mapping[TopicPartition, int | None]) -> None:
        """Records just polled, in order; ``high``: each partition's log end as of that poll."""
        for r in records:
            tp = (r.topic, r.partition)
            committed = self._committed.get(tp)
            if committed is not None and r.offset < committed:
                self._reset(tp, committed, r.offset)
            self._next[tp] = r.offset + 1
        for tp, end in high.items():
            if end is not None and end >= 0:
                self._end[tp] = end

    def committable(self, offsets: Mapping[TopicPartition, int]) -> dict[TopicPartition, int]:
        """The offsets that belong to the log being read now (a batch from a lost log commits nothing)."""
        return {tp: o for tp, o in offsets.items() if tp in self._next and o <= self._next[tp]}

    def topics_lost(self, topics: Iterable[str]) -> None:
        """The broker lost these topics (from any thread): the source rewinds to the new logs' start."""
        with self._lock:
            self._lost_topics.update(topics)

    def rewind_due_pending(self) -> bool:
        return bool(self._lost_topics)  # a plain read: the lock is taken by rewind_due

    def rewind_due(self) -> set[str]:
        """Topics lost since the last call; reports each partition read on them and forgets it."""
        with self._lock:
            due, self._lost_topics = self._lost_topics, set()
        for tp in [tp for tp in {*self._next, *self._committed} if tp[0] in due]:
            if time.monotonic() - self._reset_at.get(tp, -SETTLE_S) >= SETTLE_S:  # not reported by read()
                self._report(tp, self._committed.get(tp, self._next.get(tp, 0)), restarted_at=0)
            for state in (self._committed, self._next, self._end):
                state.pop(tp, None)
        return due

    def committed(self, offsets: Mapping[TopicPartition, int]) -> None:
        """Offsets (the next to read) the broker has stored for this consumer's group."""
        for tp, offset in offsets.items():
            # a batch read before the loss may finish its commit after it: that offset belongs to the old log
            if offset <= self._next.get(tp, offset):
                self._committed[tp] = offset

    def committed_offset(self, tp: TopicPartition) -> int | None:
        """What this consumer last committed on ``tp`` (since the loss, for a lost topic's partition)."""
        return self._committed.get(tp)

    def _reset(self, tp: TopicPartition, committed: int, restarted_at: int) -> None:
        read_to = self._next.get(tp, committed)
        now = time.monotonic()
        if now - self._reset_at.get(tp, -SETTLE_S) < SETTLE_S and self._end.get(tp, read_to) <= read_to:
            # the new log served again from near its start: read twice (the sinks are idempotent), not lost
            log.info("the new log is served again from an earlier offset", topic=tp[0], offset=restarted_at)
            self._committed[tp] = restarted_at
            return
        self._report(tp, committed, restarted_at)
        self._committed[tp] = restarted_at
        self._end.pop(tp, None)

    def _report(self, tp: TopicPartition, committed: int, restarted_at: int) -> None:
        read_to = self._next.get(tp, committed)
        self._reset_at[tp] = time.monotonic()
        lost = LostLog(tp[0], tp[1], committed, read_to, self._end.get(tp, read_to), restarted_at)
        self.lost.append(lost)
        LOG_RESETS.labels(tp[0]).inc()
        LOST_UNREAD.labels(tp[0]).inc(lost.unread)
        if self.log_resets:
            log.warning(
                "the broker lost this partition's log (it restarted without its data); "
                "reading the new log from its start",
                topic=lost.topic,
                partition=lost.partition,
                committed=lost.committed,
                read_to=lost.read_to,
                broker_end=lost.broker_end,
                lost_unread=lost.unread,
            )
        if self.on_lost is not None:
            self.on_lost(lost)
