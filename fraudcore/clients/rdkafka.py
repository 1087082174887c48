"""librdkafka clients (confluent-kafka) for the hot path: the scoring consumer and its producer.

kafka-python is pure Python: about 30k messages/s consumed and 20k/s produced, most of
it CPU on the consumer's own core. librdkafka does the protocol work in C threads
(about 100k/s consumed, 200k/s produced against the embedded broker), which leaves the
process's core to the scoring itself. The settings are the same as kafka-python's:
short group sessions (tansu holds a join for about half of one), no idempotent producer,
and never an automatic commit: the loop commits explicit offsets after the writes.
"""

from __future__ import annotations

import threading
from typing import Any

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from fraudcore.logging import get_logger
from fraudcore.settings import Settings

log = get_logger("stream")


class DeliveryFailed(RuntimeError):
    """The broker refused (or never acknowledged) a produced message."""


def make_rd_consumer(
    settings: Settings, group_id: str, *topics: str, client_id: str | None = None, **overrides: Any
) -> Consumer:
    """A consumer in ``group_id`` that commits nothing by itself (neither offsets nor stored positions)."""
    kafka = settings.kafka
    config: dict[str, Any] = {
        "bootstrap.servers": kafka.bootstrap_servers,
        "client.id": client_id or kafka.client_id,
        "group.id": group_id,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": kafka.session_timeout_ms,
        "heartbeat.interval.ms": kafka.heartbeat_interval_ms,
        "socket.timeout.ms": kafka.request_timeout_ms,
        "enable.partition.eof": False,
        "fetch.wait.max.ms": kafka.fetch_max_wait_ms,
        "fetch.min.bytes": kafka.fetch_min_bytes,
        # a topic the broker lost and a BrokerWatch recreated is picked up this soon (default: 5 min)
        "topic.metadata.refresh.interval.ms": int(kafka.watch_every_s * 1000),
    }
    if kafka.client_debug:
        config["debug"] = kafka.client_debug
    config.update(overrides)
    consumer = Consumer(config)
    if topics:
        consumer.subscribe(list(topics), on_assign=log_assigned, on_revoke=log_revoked, on_lost=log_lost)
    return consumer


def _partitions(partitions: list[TopicPartition]) -> dict[str, list[int]]:
    by_topic: dict[str, list[int]] = {}
    for tp in partitions:
        by_topic.setdefault(tp.topic, []).append(tp.partition)
    return {topic: sorted(ps) for topic, ps in sorted(by_topic.items())}


def log_assigned(consumer: Consumer, partitions: list[TopicPartition]) -> None:
    log.info("partitions assigned", group_member=consumer.memberid(), partitions=_partitions(partitions))


def log_revoked(consumer: Consumer, partitions: list[TopicPartition]) -> None:
    log.info("partitions revoked (the group rebalances)", partitions=_partitions(partitions))


def log_lost(consumer: Consumer, partitions: list[TopicPartition]) -> None:
    log.warning(
        "partitions lost (the group session expired: another member may own them now)",
        partitions=_partitions(partitions),
    )


class RdProducer:
    """A librdkafka producer behind the small interface the processors use: ``send`` then ``flush``.

    ``flush`` returns once every message sent so far is acknowledged by the broker
    (``acks=all``), and raises :class:`DeliveryFailed` if any was refused: a caller that
    commits after ``flush`` never commits a batch whose output was lost. Keys are
    partitioned with murmur2, as the Java client and kafka-python do, so one wallet's
    messages land on the same partition whichever client sent them.
    """

    def __init__(self, producer: Producer) -> None:
        self.producer = producer
        self._failed: list[str] = []
        self._lock = threading.Lock()

    def send(self, topic: str, key: bytes | None = None, value: bytes | None = None) -> None:
        while True:
            try:
                self.producer.produce(topic, value, key, on_delivery=self._delivered)
                return
            except BufferError:  # the local queue is full: let the I/O thread drain it
                self.producer.poll(0.05)

    def _delivered(self, error: KafkaError | None, message: Any) -> None:
        if error is not None:
            with self._lock:
                self._failed.append(f"{message.topic()}: {error}")

    def flush(self, timeout: float | None = None) -> None:
        left = self.producer.flush(timeout if timeout is not None else -1)
        with self._lock:
            failed, self._failed = self._failed, []
        if left:
            raise DeliveryFailed(f"{left} message(s) not acknowledged within {timeout} s")
        if failed:
            raise DeliveryFailed(f"the broker refused {len(failed)} message(s): {failed[0]}")

    def close(self, timeout: float = 10.0) -> None:
        self.producer.flush(timeout)


def make_rd_producer(settings: Settings, client_id: str | None = None, **overrides: Any) -> RdProducer:
    """A producer that waits for the broker's acknowledgement of every record (errors only are reported)."""
    kafka = settings.kafka
    config: dict[str, Any] = {
        "bootstrap.servers": kafka.bootstrap_servers,
        "client.id": client_id or kafka.client_id,
        "acks": "all",
        "enable.idempotence": kafka.enable_idempotence,
        "linger.ms": kafka.producer_linger_ms,
        "partitioner": "murmur2_random",
        "compression.type": "none",
        "message.timeout.ms": 120_000,
        "socket.timeout.ms": kafka.request_timeout_ms,
        "delivery.report.only.error": True,
        "allow.auto.create.topics": False,  # topics come from the settings (bootstrap, BrokerWatch)
        "topic.metadata.refresh.interval.ms": int(kafka.watch_every_s * 1000),  # see make_rd_consumer
    }
    if kafka.client_debug:
        config["debug"] = kafka.client_debug
    config.update(overrides)
    return RdProducer(Producer(config))
