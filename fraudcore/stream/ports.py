"""What the loop reads from: a :class:`Source` of :class:`Record` batches that commits what was processed.

The Kafka implementation is :class:`fraudcore.stream.kafka.KafkaSource`; tests use
:class:`fraudcore.stream.memory.ListSource`, which follows the same protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class CommitRefused(RuntimeError):
    """The broker refused a commit because the group rebalanced: the batch's new owner reads it again."""


@dataclass(frozen=True, slots=True)
class Record:
    """One message as consumed: where it came from and its raw bytes (nothing decoded yet)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int = 0


class Source(Protocol):
    def poll(self, max_records: int, timeout_s: float) -> list[Record]:
        """Up to ``max_records`` records, waiting at most ``timeout_s`` for the first."""
        ...

    def commit(self, records: list[Record]) -> None:
        """Mark ``records`` (and everything before them in their partitions) as processed."""
        ...

    def close(self) -> None: ...
