"""Storing one micro-batch: scored transactions into PostgreSQL and Redis, labels into PostgreSQL and MongoDB.

The processor reads three kinds of record, told apart by topic:

* **scored transactions** (the ``fraud`` and ``legit`` topics): inserted into PostgreSQL,
  idempotent on ``tx_id``; the rows that were new are counted in Redis and published on the
  live channel (so a batch read again after a crash is neither stored nor counted twice);
* **labels** (the ``labels`` topic: the simulator's ground truth and analysts' labels posted
  through the API): upserted into PostgreSQL and written onto the MongoDB document, or kept
  until the transaction arrives;
* **dead letters** (every service's): kept in Redis for the operations dashboard.

A message that does not validate goes to the dead-letter topic with the reason and its bytes.
``process`` returns only when PostgreSQL has committed, MongoDB acknowledged, Redis answered
and the producer flushed; the shared loop commits the offsets after that.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from fraudcore.live import LiveViews
from fraudcore.logging import get_logger
from fraudcore.schemas import DeadLetter, InvalidMessage, Label, ScoredTransaction, decode
from fraudcore.settings import Settings
from fraudcore.stream.dead_letters import DeadLetters
from fraudcore.stream.ports import Record
from storage_consumer import metrics
from storage_consumer.labels import MongoLabels
from storage_consumer.postgres import PostgresWriter

log = get_logger("storage_consumer")
SERVICE = "storage_consumer"


@dataclass
class BatchResult:
    stored: int = 0
    replayed: int = 0
    labels: int = 0
    labels_waiting: int = 0
    labels_moved: int = 0
    dead: int = 0
    dead_seen: int = 0
    timings: dict[str, float] = field(default_factory=dict)


class StorageProcessor:
    def __init__(
        self,
        settings: Settings,
        postgres: PostgresWriter,
        labels: MongoLabels,
        live: LiveViews,
        producer: Any,
    ) -> None:
        self.topics = settings.topics
        self.postgres = postgres
        self.labels = labels
        self.live = live
        self.producer = producer
        self.last = BatchResult()

    def process(self, records: list[Record]) -> None:
        result = BatchResult()
        started = time.perf_counter()
        dead = DeadLetters(self.producer, self.topics.dead_letters.name, SERVICE)
        scored: dict[str, tuple[ScoredTransaction, bytes]] = {}
        labels: dict[tuple[str, str], Label] = {}
        letters: list[DeadLetter] = []
        for record in records:
            topic = record.topic
            if topic == self.topics.labels.name:
                label = dead.decode(Label, record)
                if label is not None:  # the last label for a (tx, source) in the batch wins
                    labels[(label.tx_id, label.source)] = label
            elif topic == self.topics.dead_letters.name:
                try:
                    letters.append(decode(DeadLetter, record.value))
                except InvalidMessage as exc:  # never sent back to the topic it came from
                    log.warning(
                        "unreadable dead letter skipped", offset=record.offset, reason=exc.reason[:200]
                    )
            else:
                tx = dead.decode(ScoredTransaction, record)
                if tx is not None:  # routed twice (at-least-once upstream): stored once
                    scored[tx.tx_id] = (tx, record.value or b"")
        result.timings["decode"] = time.perf_counter() - started

        t = time.perf_counter()
        new = self.postgres.write([raw for _, raw in scored.values()], list(labels.values()))
        result.timings["postgres"] = time.perf_counter() - t

        t = time.perf_counter()
        result.labels_waiting = self.labels.apply(list(labels.values()))
        result.labels_moved = self.labels.arrived(list(scored)) + self.labels.sweep()
        result.timings["mongo"] = time.perf_counter() - t

        t = time.perf_counter()
        fresh = [(s, raw) for s, raw in scored.values() if s.tx_id in new]
        self.live.record([s for s, _ in fresh], [raw for _, raw in fresh])
        self.live.record_dead_letters(letters)
        result.timings["redis"] = time.perf_counter() - t

        dead.flush()
        result.dead = dead.count
        result.stored, result.replayed = len(fresh), len(scored) - len(fresh)
        result.labels, result.dead_seen = len(labels), len(letters)
        for outcome, n in (
            ("stored", result.stored),
            ("replayed", result.replayed),
            ("label", result.labels),
            ("label_waiting", result.labels_waiting),
            ("dead_letter", result.dead),
            ("dead_letter_seen", result.dead_seen),
        ):
            if n:
                metrics.MESSAGES.labels(outcome).inc(n)
        metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
        self.last = result
