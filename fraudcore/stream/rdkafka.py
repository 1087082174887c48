"""The librdkafka source: a consumer group member that commits only what the loop says was written."""

from __future__ import annotations

from typing import NoReturn

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from fraudcore.logging import get_logger
from fraudcore.stream.ports import CommitRefused, Record

log = get_logger("stream")
# a commit refused because the group moved on: the partition's new owner reads the batch again
_REBALANCED = {
    KafkaError.REBALANCE_IN_PROGRESS,
    KafkaError.ILLEGAL_GENERATION,
    KafkaError.UNKNOWN_MEMBER_ID,
    KafkaError._NO_OFFSET,  # nothing assigned any more
    KafkaError._STATE,
}


class RdKafkaSource:
    def __init__(self, consumer: Consumer) -> None:
        self.consumer = consumer

    def poll(self, max_records: int, timeout_s: float) -> list[Record]:
        """Up to ``max_records``, returning as soon as any have arrived (not after ``timeout_s``).

        librdkafka's ``consume(n, timeout)`` waits for all ``n`` or the whole timeout: at 1,000
        tx/s with batches of 2,000 that held every batch for the full second. So: wait for the
        first message only, then take what is already fetched without waiting.
        """
        out: list[Record] = []
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
        return out

    def commit(self, records: list[Record]) -> None:
        """Commit, per partition, the offset after the last record (synchronously: it returns once stored)."""
        if not records:
            return
        highest: dict[tuple[str, int], int] = {}
        for r in records:
            tp = (r.topic, r.partition)
            if r.offset > highest.get(tp, -1):
                highest[tp] = r.offset
        offsets = [TopicPartition(t, p, o + 1) for (t, p), o in highest.items()]
        try:
            committed = self.consumer.commit(offsets=offsets, asynchronous=False) or []
        except KafkaException as exc:
            _raise(exc.args[0] if exc.args else None, exc)
        for done in committed:
            if done.error is not None:
                _raise(done.error, KafkaException(done.error))

    def close(self) -> None:
        self.consumer.close()


def _raise(error: object, exc: BaseException) -> NoReturn:
    if isinstance(error, KafkaError) and error.code() in _REBALANCED:
        raise CommitRefused(str(error)) from exc
    raise exc
