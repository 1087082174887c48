"""The Kafka source: a consumer group member that commits only what the loop says was written."""

from __future__ import annotations

from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata

from fraudcore.stream.ports import Record


class KafkaSource:
    def __init__(self, consumer: KafkaConsumer) -> None:
        self.consumer = consumer

    def poll(self, max_records: int, timeout_s: float) -> list[Record]:
        polled: dict[Any, list[Any]] = self.consumer.poll(
            timeout_ms=int(timeout_s * 1000), max_records=max_records
        )
        return [
            Record(m.topic, m.partition, m.offset, m.key, m.value, m.timestamp or 0)
            for messages in polled.values()
            for m in messages
        ]

    def commit(self, records: list[Record]) -> None:
        """Commit, per partition, the offset after the last record (synchronously: it returns once stored)."""
        if not records:
            return
        highest: dict[TopicPartition, int] = {}
        for r in records:
            tp = TopicPartition(r.topic, r.partition)
            highest[tp] = max(highest.get(tp, -1), r.offset)
        self.consumer.commit({tp: OffsetAndMetadata(offset + 1, "", -1) for tp, offset in highest.items()})

    def close(self) -> None:
        self.consumer.close(autocommit=False)
