"""The storage consumer assembled from settings: clients, writers, live views, processor, loop."""

from __future__ import annotations

from typing import Any

from fraudcore.bootstrap import bootstrap
from fraudcore.clients.mongo import mongo_db, wait_mongo
from fraudcore.clients.postgres import connect_postgres
from fraudcore.clients.rdkafka import make_rd_consumer, make_rd_producer
from fraudcore.clients.redis import wait_redis
from fraudcore.live import LiveViews
from fraudcore.logging import get_logger
from fraudcore.service import serve_metrics, stop_event
from fraudcore.settings import Settings
from fraudcore.stream import BatchPolicy, run
from fraudcore.stream.broker_watch import BrokerWatch
from fraudcore.stream.collector import Collector
from fraudcore.stream.offsets import OffsetTracker
from fraudcore.stream.progress import Progress, timings_ms
from fraudcore.stream.rdkafka import RdKafkaSource
from storage_consumer.labels import MongoLabels
from storage_consumer.postgres import PostgresWriter
from storage_consumer.processor import StorageProcessor

log = get_logger("storage_consumer")


def build(settings: Settings, producer: Any = None) -> StorageProcessor:
    """The processor on real clients (PostgreSQL, MongoDB, Redis, a Kafka producer for dead letters)."""
    mongo = wait_mongo(settings, settings.stack.ready_timeout_s)
    redis = wait_redis(settings, settings.stack.ready_timeout_s)
    return StorageProcessor(
        settings,
        PostgresWriter(lambda: connect_postgres(settings, "storage-consumer")),
        MongoLabels(mongo_db(mongo, settings)),
        LiveViews(redis, settings.live),
        producer or make_rd_producer(settings, "storage-consumer"),
    )


def topics(settings: Settings) -> list[str]:
    t = settings.topics
    return [t.fraud.name, t.legit.name, t.labels.name, t.dead_letters.name]


def main(settings: Settings) -> None:
    bootstrap(settings)
    stop = stop_event()
    serve_metrics(settings, settings.storage.metrics_port)
    offsets = OffsetTracker()  # reports what the broker lost; rewinds to a lost topic's new log
    broker = BrokerWatch(settings, on_lost=[offsets.topics_lost]).start()
    processor = build(settings)
    storage = settings.storage
    # librdkafka, as the scorer reads: kafka-python's consumer cost ~40 µs of this process's CPU a message
    source = RdKafkaSource(
        make_rd_consumer(settings, storage.group_id, client_id="storage-consumer"), topics(settings), offsets
    )
    policy = BatchPolicy(max_records=storage.batch_max_records, max_wait_s=storage.batch_max_wait_ms / 1000)
    log.info("storing", group=storage.group_id, topics=topics(settings))
    progress = Progress(
        log.info,
        "stored",
        lambda: {
            "new": processor.last.stored,
            "replayed": processor.last.replayed,
            "labels": processor.last.labels,
            "dead_letters": processor.last.dead,
            **timings_ms(processor.last.timings),
        },
    )
    collector = Collector().start()  # no automatic cyclic collection while storing: see its module
    try:
        run(
            source,
            processor,
            policy,
            stop,
            on_batch=collector.after(progress.batch),
        )
    finally:
        log.info("stopping: last batch committed, closing")
        source.close()  # commits nothing: the loop committed what was written
        processor.producer.flush()
        processor.producer.close(timeout=10)
        processor.postgres.close()
        broker.stop()
        collector.stop()
