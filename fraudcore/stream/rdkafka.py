"""The librdkafka source: a consumer group member that commits only what the loop says was written."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import NoReturn

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from fraudcore.clients.rdkafka import log_assigned, log_lost, log_revoked
from fraudcore.logging import get_logger
from fraudcore.stream.offsets import OffsetTracker
from fraudcore.stream.ports import CommitRefused, Record

log = get_logger("stream")
TOPICS_BACK_S = 30.0  # after a loss, wait at most this long for every subscribed topic to be back
NARROWED_S = 15.0  # the join without one topic waits at most this long for its assignment
GROUP_STALL_S = 60.0  # subscribed this long without any assignment: the group is not forming; say so
# a commit not stored because the group moved on (the partition's new owner reads the batch again)
# or the broker is unavailable (a later commit covers the batch, or a restarted consumer reads it again)
_NOT_STORED = {
    KafkaError.REBALANCE_IN_PROGRESS,
    KafkaError.ILLEGAL_GENERATION,
    KafkaError.UNKNOWN_MEMBER_ID,
    KafkaError._NO_OFFSET,  # nothing assigned any more
    KafkaError._STATE,
    KafkaError._WAIT_COORD,
    KafkaError.COORDINATOR_NOT_AVAILABLE,
    KafkaError.NOT_COORDINATOR,
    KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
    KafkaError._TRANSPORT,
    KafkaError._ALL_BROKERS_DOWN,
    KafkaError._TIMED_OUT,
    KafkaError.REQUEST_TIMED_OUT,
    KafkaError.UNKNOWN_TOPIC_OR_PART,
    KafkaError._UNKNOWN_PARTITION,
    KafkaError._UNKNOWN_TOPIC,
}


class RdKafkaSource:
    """Reads and commits for the loop; its :class:`OffsetTracker` reports a log the broker lost.

    The source subscribes the consumer to ``topics`` itself. After the broker lost topics (a
    restart without its data) it waits until every subscribed topic is back, then joins the
    group again in two steps, first subscribed to all topics but the last, then to all of them,
    and starts the new logs' partitions at their beginning (or where it has committed on them
    since). Why two steps: a member that joined the restarted broker while some topics were still
    missing keeps an assignment without them, and joining again with the same subscription does
    not help on the embedded broker, tansu 0.6, which answers a member that joins again under its
    id with unchanged protocol metadata with the assignment it stored before (measured with a
    bare consumer: 6 of 28 restarts left it reading 2 of 8 partitions; subscribing again: still
    2; all topics but one, then all: 8). A changed subscription is changed metadata, so tansu
    starts a new generation and takes the leader's new assignment.

    It never leaves the group to join again: tansu keeps a member that leaves a group *while it
    is forming* as that group's leader, and every member that joins after it then waits for that
    leader's assignment forever (``SyncGroup``: rebalance in progress, every few seconds;
    reproduced with two bare consumers). Subscribing again makes librdkafka join with the same
    member id and no ``LeaveGroup``. A group that assigns nothing for ``stall_s`` while the
    broker answers is logged as an error with what to do.
    """

    def __init__(
        self,
        consumer: Consumer,
        topics: Sequence[str],
        offsets: OffsetTracker | None = None,
        stall_s: float = GROUP_STALL_S,
    ) -> None:
        self.consumer = consumer
        self.stall_s = stall_s
        self.stalls = 0  # times the group was reported stuck
        self.offsets = offsets or OffsetTracker()
        self.topics = list(topics)
        self._from_beginning: set[str] = set()  # lost topics: assigned from 0 (or their new commits)
        self._lost_at: float | None = None  # topics lost: joining again once they are all back
        self._next_look = 0.0
        self._narrowed_at: float | None = None  # subscribed to all topics but the last since then
        self._narrowed_revoked = False  # an assignment counts once the narrowed join revoked the old one
        self._narrowed_assigned = False
        self._widened = False  # subscribed to all topics again: the next assignment ends the re-join
        self._unassigned_since: float | None = None  # subscribed or revoked, not assigned since
        self._subscribe()

    @property
    def rejoining(self) -> bool:
        """Whether a re-join after a broker loss is under way (topics awaited, or an assignment)."""
        return self._lost_at is not None or self._narrowed_at is not None or self._widened

    def _subscribe(self, topics: list[str] | None = None) -> None:
        """Subscribe (again: librdkafka then joins with the same member id, without leaving the group)."""
        self._unassigned_since = time.monotonic()
        self.consumer.subscribe(
            topics or self.topics, on_assign=self._assigned, on_revoke=self._revoked, on_lost=self._lost
        )

    def _revoked(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._unassigned_since = time.monotonic()
        self._narrowed_revoked = self._narrowed_at is not None
        log_revoked(consumer, partitions)

    def _lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._unassigned_since = time.monotonic()
        self._narrowed_revoked = self._narrowed_at is not None
        log_lost(consumer, partitions)

    def _assigned(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._unassigned_since = None  # even an empty one: the group formed (more members than partitions)
        log_assigned(consumer, partitions)
        if self._narrowed_revoked:
            self._narrowed_assigned = True
        rewound = {tp.topic for tp in partitions if tp.topic in self._from_beginning}
        if rewound:
            # whatever the group committed before the loss was noticed belongs to the old logs
            for tp in partitions:
                if tp.topic in rewound:
                    since = self.offsets.committed_offset((tp.topic, tp.partition))
                    tp.offset = OFFSET_BEGINNING if since is None else since
            log.info(
                "reading the new logs from their beginning (or this consumer's commits on them)",
                topics=sorted(rewound),
            )
        if self._widened:  # the re-join is over
            self._widened = False
            self._from_beginning.clear()
        consumer.assign(partitions)

    def poll(self, max_records: int, timeout_s: float) -> list[Record]:
        """Up to ``max_records``, returning as soon as any have arrived (not after ``timeout_s``).

        librdkafka's ``consume(n, timeout)`` waits for all ``n`` or the whole timeout: at 1,000
        tx/s with batches of 2,000 that held every batch for the full second. So: wait for the
        first message only, then take what is already fetched without waiting.
        """
        out: list[Record] = []
        if self.offsets.rewind_due_pending():
            self._rewind()
        if self._lost_at is not None or self._narrowed_at is not None:
            self._rejoin_step()
        self._check_stall()
        first = self.consumer.poll(timeout_s)
        if first is None:
            return out
        messages = (
            [first, *self.consumer.consume(num_messages=max_records - 1, timeout=0)]
            if max_records > 1
            else [first]
        )
        for m in messages:
            error = m.error()
            if error is not None:
                if error.fatal():
                    raise KafkaException(error)
                log.warning("consumer error (librdkafka retries it)", error=str(error)[:200])
                continue
            # a message without an error always has its topic, partition and offset
            out.append(
                Record(
                    m.topic() or "", m.partition() or 0, m.offset() or 0, m.key(), m.value(), m.timestamp()[1]
                )
            )
        if out:
            self.offsets.read(out, {tp: self._end(*tp) for tp in {(r.topic, r.partition) for r in out}})
        return out

    def _check_stall(self) -> None:
        since = self._unassigned_since
        if since is None or time.monotonic() - since < self.stall_s:
            return
        self._unassigned_since = time.monotonic()  # again in stall_s if nothing changes
        try:
            self.consumer.list_topics(timeout=2)
        except KafkaException:
            return  # the broker is away (its watch says so): no group forms without it
        self.stalls += 1
        log.error(
            "the consumer group has assigned nothing for a while: nothing is read. On the embedded "
            "broker this is tansu's stuck group (a member left it while it was forming): restart the "
            "stack (`make down && make up`; the broker's topics start empty). Otherwise check that the "
            "topics exist and the broker's logs",
            group_member=self.consumer.memberid(),
            seconds=round(self.stall_s),
        )

    def _rewind(self) -> None:
        """Join the group again, reading this consumer's partitions of the lost topics from the beginning."""
        self._rejoin(self.offsets.rewind_due())

    def _rejoin(self, lost: set[str]) -> None:
        """Join the group again once every subscribed topic is back, reading ``lost`` from the beginning."""
        lost = lost & set(self.topics)
        self._from_beginning |= lost
        self._lost_at = time.monotonic()
        self._next_look = 0.0
        log.info("the broker lost topics: joining the group again once all are back", topics=sorted(lost))

    def _rejoin_step(self) -> None:
        """The re-join after a loss, one step a poll: topics back, then all but the last, then all of them."""
        now = time.monotonic()
        if self._narrowed_at is not None:
            if self._narrowed_assigned or now - self._narrowed_at >= NARROWED_S:
                self._narrowed_at = None
                self._widened = True
                log.info("joining the group again with every topic", topics=self.topics)
                self._subscribe()
            return
        assert self._lost_at is not None
        if now < self._next_look:
            return
        self._next_look = now + 0.5
        missing = self._missing_topics()
        if missing and now - self._lost_at < TOPICS_BACK_S:
            return
        if missing:
            log.warning(
                "topics still missing after a broker loss: joining the group without them (their broker "
                "watch recreates them; check that some service watches them)",
                topics=missing,
                seconds=round(TOPICS_BACK_S),
            )
        self._lost_at = None
        if len(self.topics) > 1:  # changed metadata: tansu computes the assignment again
            self._narrowed_at, self._narrowed_revoked, self._narrowed_assigned = now, False, False
            self._subscribe(self.topics[:-1])
        else:  # one topic cannot be narrowed: joining again as it is is the best there is
            self._widened = True
            self._subscribe()

    def _missing_topics(self) -> list[str]:
        """Subscribed topics the broker does not list with partitions (this also refreshes the metadata)."""
        try:
            listed = self.consumer.list_topics(timeout=5).topics
        except KafkaException as exc:
            log.warning("could not read the topics' metadata", error=str(exc)[:200])
            return list(self.topics)
        return [t for t in self.topics if t not in listed or listed[t].error or not listed[t].partitions]

    def _end(self, topic: str, partition: int) -> int | None:
        """The log end the broker reported with its last fetch response (no request is made)."""
        try:
            return int(self.consumer.get_watermark_offsets(TopicPartition(topic, partition), cached=True)[1])
        except KafkaException:
            return None

    def commit(self, records: list[Record]) -> None:
        """Commit, per partition, the offset after the last record (synchronously: it returns once stored)."""
        if not records:
            return
        highest: dict[tuple[str, int], int] = {}
        for r in records:
            tp = (r.topic, r.partition)
            if r.offset > highest.get(tp, -1):
                highest[tp] = r.offset
        offsets = [
            TopicPartition(t, p, o)
            for (t, p), o in self.offsets.committable({tp: o + 1 for tp, o in highest.items()}).items()
        ]
        if not offsets:
            return
        try:
            committed = self.consumer.commit(offsets=offsets, asynchronous=False) or []
        except KafkaException as exc:
            _raise(exc.args[0] if exc.args else None, exc)
        for done in committed:
            if done.error is not None:
                _raise(done.error, KafkaException(done.error))
        self.offsets.committed({(t, p): o for t, p, o in ((o.topic, o.partition, o.offset) for o in offsets)})

    def close(self) -> None:
        self.consumer.close()


def _raise(error: object, exc: BaseException) -> NoReturn:
    if isinstance(error, KafkaError) and error.code() in _NOT_STORED:
        raise CommitRefused(str(error)) from exc
    raise exc
