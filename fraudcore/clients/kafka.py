"""Kafka producer, consumer and admin factories (kafka-python), and topic creation."""

from __future__ import annotations

from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.errors import IncompatibleBrokerVersion
from kafka.partitioner import DefaultPartitioner
from kafka.partitioner.default import murmur2

from fraudcore.clients.retry import wait_until_ready
from fraudcore.logging import get_logger
from fraudcore.settings import KafkaSettings, Settings, TopicSpec

log = get_logger(__name__)
TOPIC_ALREADY_EXISTS = 36  # Kafka protocol error code


def _common(kafka: KafkaSettings, client_id: str | None) -> dict[str, Any]:
    return {
        "bootstrap_servers": kafka.servers,
        "client_id": client_id or kafka.client_id,
        "request_timeout_ms": kafka.request_timeout_ms,
    }


class KeyCachingPartitioner(DefaultPartitioner):  # type: ignore[misc]
    """Kafka's default partitioning (murmur2 of the key, as the Java client), remembering each key's result.

    kafka-python's murmur2 is pure Python (about 20 µs a key); wallets send again and
    again, so a bounded cache of key -> hash takes it off the producer's hot path.
    """

    MAX_KEYS = 200_000

    def __init__(self) -> None:
        super().__init__()
        self._hashes: dict[bytes, int] = {}

    def partition(
        self,
        topic: str,
        key: Any,
        serialized_key: bytes | None,
        value: Any,
        serialized_value: Any,
        cluster: Any,
    ) -> int:
        if serialized_key is None:
            return int(super().partition(topic, key, serialized_key, value, serialized_value, cluster))
        partitions = cluster.partitions_for_topic(topic)
        if partitions is None:
            raise ValueError(f"Topic {topic} not found in ClusterMetadata")
        hashed = self._hashes.get(serialized_key)
        if hashed is None:
            if len(self._hashes) >= self.MAX_KEYS:
                self._hashes.clear()
            hashed = self._hashes[serialized_key] = murmur2(serialized_key) & 0x7FFFFFFF
        ordered = sorted(partitions)
        return int(ordered[hashed % len(ordered)])


def make_producer(settings: Settings, client_id: str | None = None, **overrides: Any) -> KafkaProducer:
    """A producer that waits for the broker's acknowledgement of every record."""
    kafka = settings.kafka
    config: dict[str, Any] = {
        **_common(kafka, client_id),
        "partitioner": KeyCachingPartitioner(),
        "acks": "all",
        "enable_idempotence": kafka.enable_idempotence,
        "linger_ms": kafka.producer_linger_ms,
        "max_in_flight_requests_per_connection": 1 if not kafka.enable_idempotence else 5,
        "compression_type": None,
        "allow_auto_create_topics": False,  # topics come from the settings (bootstrap, BrokerWatch)
        "metadata_max_age_ms": int(kafka.watch_every_s * 1000),  # a recreated topic is found this soon
    }
    config.update(overrides)
    return KafkaProducer(**config)


def make_consumer(
    settings: Settings, group_id: str, *topics: str, client_id: str | None = None, **overrides: Any
) -> KafkaConsumer:
    """A consumer in ``group_id`` that never commits by itself: the caller commits after writing."""
    kafka = settings.kafka
    config: dict[str, Any] = {
        **_common(kafka, client_id),
        "group_id": group_id,
        "enable_auto_commit": False,
        "fetch_max_wait_ms": kafka.fetch_max_wait_ms,
        "fetch_min_bytes": kafka.fetch_min_bytes,
        "auto_offset_reset": "earliest",
        "session_timeout_ms": kafka.session_timeout_ms,
        "heartbeat_interval_ms": kafka.heartbeat_interval_ms,
        "max_poll_records": kafka.max_poll_records,
        "allow_auto_create_topics": False,
        # a topic the broker lost and a BrokerWatch recreated is picked up this soon (default: 5 min)
        "metadata_max_age_ms": int(kafka.watch_every_s * 1000),
    }
    config.update(overrides)
    consumer = KafkaConsumer(**config)
    if topics:
        consumer.subscribe(list(topics))
    return consumer


def make_admin(
    settings: Settings, client_id: str | None = None, timeout_ms: int | None = None
) -> KafkaAdminClient:
    """An admin client; ``timeout_ms`` bounds both finding the broker and each request."""
    config = _common(settings.kafka, client_id)
    if timeout_ms is not None:
        config.update(request_timeout_ms=timeout_ms, bootstrap_timeout_ms=timeout_ms)
    return KafkaAdminClient(**config)


def wait_kafka(settings: Settings, timeout_s: float = 60.0) -> KafkaAdminClient:
    """An admin client, once the broker answers metadata requests."""

    def probe() -> KafkaAdminClient:
        admin = make_admin(settings, "fraud-ready-probe", timeout_ms=5000)
        try:
            admin.list_topics()
        except Exception:
            admin.close()
            raise
        return admin

    return wait_until_ready("Kafka", probe, timeout_s, settings.kafka.bootstrap_servers)


def ensure_topics(admin: KafkaAdminClient, specs: list[TopicSpec]) -> list[str]:
    """Create missing topics with their partition counts and configs; grow short ones.

    Idempotent, and safe when several services bootstrap at once. Returns the names it
    created. The embedded broker auto-creates topics with 4 partitions and keeps no
    configs unless asked, so every topic is created here, explicitly, before any
    service produces to it.
    """
    existing = set(admin.list_topics())
    missing = {
        spec.name: {
            "num_partitions": spec.partitions,
            "replication_factor": 1,
            "configs": {"retention.ms": str(spec.retention_ms)},
        }
        for spec in specs
        if spec.name not in existing
    }
    created: list[str] = []
    if missing:
        response = admin.create_topics(missing, raise_errors=False, wait_for_metadata=True)
        for topic in response["topics"]:
            if topic["error_code"] == 0:
                created.append(topic["name"])
            elif topic["error_code"] != TOPIC_ALREADY_EXISTS:  # lost a race with another service: fine
                raise RuntimeError(f"cannot create topic {topic['name']}: {topic['error_message']}")
        log.info("created topics", topics=created)
    _grow_partitions(admin, specs)
    return created


def _grow_partitions(admin: KafkaAdminClient, specs: list[TopicSpec]) -> None:
    counts = partition_counts(admin, [s.name for s in specs])
    grow = {s.name: s.partitions for s in specs if 0 < counts.get(s.name, 0) < s.partitions}
    if grow:
        try:
            admin.create_partitions(grow)
            log.info("added partitions", topics=grow)
        except IncompatibleBrokerVersion:
            log.warning(
                "this broker cannot add partitions (the embedded tansu broker cannot); topics keep their "
                "partition count until recreated",
                topics=grow,
                partitions={name: counts[name] for name in grow},
            )
    for spec in specs:
        if counts.get(spec.name, 0) > spec.partitions:
            log.warning(
                "topic has more partitions than configured; Kafka cannot shrink a topic",
                topic=spec.name,
                partitions=counts[spec.name],
                configured=spec.partitions,
            )


def partition_counts(admin: KafkaAdminClient, names: list[str]) -> dict[str, int]:
    return {t["name"]: len(t["partitions"]) for t in admin.describe_topics(names) if not t.get("error_code")}
