"""Decode-or-dead-letter: one batch's invalid messages go to the dead-letter topic with the reason.

Every consumer validates each message with the schema; one that fails never crashes the
consumer and never stalls its partition: it is sent, with its original bytes, the reason and
where it came from, to the dead-letter topic, and the batch goes on. :meth:`DeadLetters.flush`
makes sure the broker has them before the batch's offsets are committed.
"""

from __future__ import annotations

from typing import Any, TypeVar

from fraudcore.logging import get_logger
from fraudcore.schemas import DeadLetter, InvalidMessage, Message, decode, encode
from fraudcore.stream.ports import Record

log = get_logger("dead_letters")
M = TypeVar("M", bound=Message)


class DeadLetters:
    """One batch's dead letters (make a new one per batch)."""

    def __init__(self, producer: Any, topic: str, service: str) -> None:
        self.producer = producer
        self.topic = topic
        self.service = service
        self.count = 0
        self.failures: list[BaseException] = []

    def decode(self, model: type[M], record: Record) -> M | None:
        """The validated message, or None after sending the record to the dead-letter topic."""
        try:
            return decode(model, record.value)
        except InvalidMessage as exc:
            self.send(record, exc.reason)
            return None

    def send(self, record: Record, reason: str) -> None:
        letter = DeadLetter.of(
            service=self.service,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            reason=reason,
            original=record.value or b"",
        )
        sent = self.producer.send(self.topic, key=record.key, value=encode(letter))
        if sent is not None:  # kafka-python's future; librdkafka's RdProducer reports refusals in flush()
            sent.add_errback(self.failures.append)
        self.count += 1
        log.warning(
            "dead letter", service=self.service, topic=record.topic, offset=record.offset, reason=reason[:200]
        )

    def flush(self) -> None:
        """Return once the broker has every dead letter of the batch; raise if it refused one."""
        if self.count:
            self.producer.flush()
        if self.failures:
            raise RuntimeError(f"the broker refused {len(self.failures)} message(s): {self.failures[0]}")
