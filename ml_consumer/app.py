"""The scoring consumer assembled from settings: clients, feature store, model watcher, processor, loop."""

from __future__ import annotations

import threading
import time

from fraudcore.bootstrap import bootstrap
from fraudcore.clients.mongo import mongo_db, wait_mongo
from fraudcore.clients.rdkafka import RdProducer, make_rd_consumer, make_rd_producer
from fraudcore.clients.redis import wait_redis
from fraudcore.features import FeatureConfig, FeatureEngine, RedisStore
from fraudcore.logging import get_logger
from fraudcore.models.registry import ModelWatcher
from fraudcore.service import serve_metrics, stop_event
from fraudcore.settings import Settings
from fraudcore.stream import BatchPolicy, run
from fraudcore.stream.broker_watch import BrokerWatch
from fraudcore.stream.collector import Collector
from fraudcore.stream.offsets import OffsetTracker
from fraudcore.stream.progress import Progress, timings_ms
from fraudcore.stream.rdkafka import RdKafkaSource
from fraudcore.stream.resend import ResendingProducer
from ml_consumer.processor import ScoringProcessor

log = get_logger("ml_consumer")


def build(
    settings: Settings, producer: RdProducer | ResendingProducer | None = None
) -> tuple[ScoringProcessor, ModelWatcher]:
    """The processor and its model watcher, on real clients (MongoDB, Redis, Kafka producer)."""
    scoring = settings.scoring
    mongo = wait_mongo(settings, settings.stack.ready_timeout_s)
    redis = wait_redis(settings, settings.stack.ready_timeout_s)
    store = RedisStore(redis, ttl_s=int(scoring.state_ttl_days * 86400))
    engine = FeatureEngine(
        store,
        FeatureConfig.from_settings(settings),
    )
    watcher = ModelWatcher(settings.models.dir, scoring.reload_check_s, compile_lstm=scoring.compile_lstm)
    producer = producer or make_rd_producer(settings, "ml-consumer")
    return ScoringProcessor(settings, mongo_db(mongo, settings), producer, engine, watcher), watcher


def wait_for_model(watcher: ModelWatcher, stop: threading.Event) -> bool:
    """Wait (logging what to do every 30 s) until an approved version exists; False if stopped first."""
    said = 0.0
    while not stop.is_set():
        if watcher.current() is not None:
            return True
        if time.monotonic() - said > 30:
            said = time.monotonic()
            log.error(
                "no approved model version to score with; waiting for one",
                models_dir=str(watcher.folder),
                fix="run `make models` (or `python -m retrainer train --data DIR`)",
                refused=watcher.refused or None,
            )
        stop.wait(min(watcher.every_s, 5.0))
    return False


def main(settings: Settings) -> None:
    bootstrap(settings, postgres=False)
    stop = stop_event()
    serve_metrics(settings, settings.scoring.metrics_port)
    scoring, topics = settings.scoring, settings.topics
    producer = ResendingProducer(
        make_rd_producer(settings, "ml-consumer"),
        [topics.fraud.name, topics.legit.name],
        settings.kafka.resend_window_s,
        settings.kafka.resend_max,
    )
    offsets = OffsetTracker()  # reports what the broker lost; rewinds to a lost topic's new log
    broker = BrokerWatch(settings, on_lost=[producer.lost, offsets.topics_lost]).start()
    processor, watcher = build(settings, producer)
    if not wait_for_model(watcher, stop):
        return
    source = RdKafkaSource(
        make_rd_consumer(settings, scoring.group_id, client_id="ml-consumer"),
        [topics.transactions.name, topics.labels.name],
        offsets,
    )
    policy = BatchPolicy(max_records=scoring.batch_max_records, max_wait_s=scoring.batch_max_wait_ms / 1000)
    progress = Progress(
        log.info,
        "scored",
        lambda: {
            "fraud": processor.last.fraud,
            "dead_letters": processor.last.dead,
            "model": processor.models.version.name if processor.models.version else None,
            **timings_ms(processor.last.timings),
        },
    )
    log.info(
        "scoring",
        group=scoring.group_id,
        topics=[topics.transactions.name, topics.labels.name],
        model=watcher.version.name if watcher.version else None,
    )
    collector = Collector().start()  # no automatic cyclic collection while scoring: see its module
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
        producer.close(timeout=10)
        broker.stop()
        collector.stop()
        watcher.close()
