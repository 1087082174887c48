"""The Kafka source: a consumer group member that commits only what the loop says was written."""

from __future__ import annotations

from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import CommitFailedError, KafkaError, RebalanceInProgressError
from kafka.structs import OffsetAndMetadata

from fraudcore.stream.offsets import OffsetTracker
from fraudcore.stream.ports import CommitRefused, Record


class KafkaSource:
    """Reads and commits for the loop; its :class:`OffsetTracker` reports a log the broker lost."""

    def __init__(self, consumer: KafkaConsumer, offsets: OffsetTracker | None = None) -> None:
        self.consumer = consumer
        self.offsets = offsets or OffsetTracker()

    def poll(self, max_records: int, timeout_s: float) -> list[Record]:
        if self.offsets.rewind_due_pending():
            due = self.offsets.rewind_due()
            lost = [tp for tp in self.consumer.assignment() if tp.topic in due]
            if lost:  # the broker lost these topics: read their new logs from the start
                self.consumer.seek_to_beginning(*lost)
        polled: dict[Any, list[Any]] = self.consumer.poll(
            timeout_ms=int(timeout_s * 1000), max_records=max_records
        )
        records = [
            Record(m.topic, m.partition, m.offset, m.key, m.value, m.timestamp or 0)
            for messages in polled.values()
            for m in messages
        ]
        if records:
            self.offsets.read(
                records, {(tp.topic, tp.partition): self.consumer.highwater(tp) for tp in polled}
            )
        return records

    def commit(self, records: list[Record]) -> None:
        """Commit, per partition, the offset after the last record (synchronously: it returns once stored)."""
        if not records:
            return
        highest: dict[TopicPartition, int] = {}
        for r in records:
            tp = TopicPartition(r.topic, r.partition)
            highest[tp] = max(highest.get(tp, -1), r.offset)
        keep = self.offsets.committable({(tp.topic, tp.partition): o + 1 for tp, o in highest.items()})
        offsets = {TopicPartition(*tp): OffsetAndMetadata(o, "", -1) for tp, o in keep.items()}
        if not offsets:
            return
        try:
            self.consumer.commit(offsets)
        except (CommitFailedError, RebalanceInProgressError):
            raise
        except KafkaError as exc:  # the coordinator is away: not stored now, a later commit covers it
            raise CommitRefused(f"{type(exc).__name__}: {exc}") from exc
        self.offsets.committed(keep)

    def close(self) -> None:
        self.consumer.close(autocommit=False)
