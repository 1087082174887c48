"""The scoring processor on real MongoDB and Redis, fed from memory, its output caught in memory."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fraudcore.clients.mongo import make_mongo
from fraudcore.clients.redis import make_redis
from fraudcore.features import FeatureConfig, FeatureEngine, RedisStore
from fraudcore.models.registry import ModelWatcher
from fraudcore.schemas import Label, Transaction
from fraudcore.settings import Settings, SimulatorSettings
from ml_consumer.processor import ScoringProcessor
from simulator.economy import Economy, SimulatedTransaction
from simulator.output import take
from tests.helpers import unique


class Future:
    def add_errback(self, fn: Any) -> Future:
        return self


@dataclass
class ListProducer:
    """Catches what would go to Kafka: (topic, key, value)."""

    sent: list[tuple[str, bytes | None, bytes]] = field(default_factory=list)

    def send(self, topic: str, key: bytes | None = None, value: bytes = b"") -> Future:
        self.sent.append((topic, key, value))
        return Future()

    def flush(self, timeout: float | None = None) -> None:
        pass

    def on(self, topic: str) -> list[bytes]:
        return [v for t, _, v in self.sent if t == topic]


@dataclass
class Scoring:
    settings: Settings
    processor: ScoringProcessor
    producer: ListProducer
    models: Path
    db: Any
    redis: Any
    prefix: str


@pytest.fixture
def scoring(settings: Settings, trained: tuple[Path, Any], tmp_path: Path) -> Iterator[Scoring]:
    models = tmp_path / "models"
    shutil.copytree(trained[0], models)
    test_settings = settings.model_copy(
        update={
            "mongo": settings.mongo.model_copy(update={"database": unique("score")}),
            "models": settings.models.model_copy(update={"dir": models}),
        }
    )
    db = make_mongo(test_settings)[test_settings.mongo.database]
    redis = make_redis(test_settings)
    prefix = unique("fs") + ":"
    engine = FeatureEngine(RedisStore(redis, prefix=prefix), FeatureConfig())
    producer = ListProducer()
    watcher = ModelWatcher(models, every_s=0.0)
    processor = ScoringProcessor(test_settings, db, producer, engine, watcher)
    yield Scoring(test_settings, processor, producer, models, db, redis, prefix)
    watcher.close()


def simulated(count: int, seed: int = 30) -> tuple[list[Transaction], list[Label]]:
    economy = Economy(
        SimulatorSettings(accounts=300, fraud_rate=0.03, label_delay_hours=1),
        seed=seed,
        start=datetime(2026, 6, 1, tzinfo=UTC),
    )
    txs: list[Transaction] = []
    labels: list[Label] = []
    for event in take(economy, count):
        (txs.append(event.tx) if isinstance(event, SimulatedTransaction) else labels.append(event))
    return txs, labels
