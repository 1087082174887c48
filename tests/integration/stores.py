"""Fixtures for the storage processor on real PostgreSQL, MongoDB and Redis, fed from memory.

Each test gets its own PostgreSQL database (migrated by the real bootstrap), MongoDB database
and Redis key prefix, so tests never see each other's rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from psycopg2 import sql
from pydantic import PostgresDsn

from fraudcore.bootstrap import bootstrap
from fraudcore.clients.mongo import make_mongo
from fraudcore.clients.postgres import connect_postgres
from fraudcore.clients.redis import make_redis
from fraudcore.live import LiveViews
from fraudcore.schemas import Label, ScoredTransaction, Transaction
from fraudcore.settings import Settings
from fraudcore.stream import BatchPolicy, run
from fraudcore.stream.memory import ListSource
from storage_consumer.labels import MongoLabels
from storage_consumer.postgres import PostgresWriter
from storage_consumer.processor import StorageProcessor
from tests.helpers import unique
from tests.integration.ml_consumer.conftest import ListProducer, simulated


def fresh_database(settings: Settings) -> Settings:
    """Settings pointing at a new, migrated PostgreSQL database and a new MongoDB database."""
    name = unique("store").replace("-", "_")
    admin = connect_postgres(settings)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    admin.close()
    dsn = str(settings.postgres.dsn).rsplit("/", 1)[0] + f"/{name}"
    out = settings.model_copy(
        update={
            "postgres": settings.postgres.model_copy(update={"dsn": PostgresDsn(dsn)}),
            "mongo": settings.mongo.model_copy(update={"database": name}),
            "live": settings.live.model_copy(update={"prefix": f"{name}:", "channel": f"{name}:scored"}),
        }
    )
    bootstrap(out, kafka=False)
    return out


@dataclass
class Storage:
    settings: Settings
    processor: StorageProcessor
    producer: ListProducer
    live: LiveViews
    db: Any
    redis: Any

    def rows(self, query: str, *args: Any) -> list[tuple[Any, ...]]:
        conn = connect_postgres(self.settings)
        try:
            with conn.cursor() as cur:
                cur.execute(query, args)
                return cur.fetchall()
        finally:
            conn.close()


@pytest.fixture
def storage(settings: Settings) -> Storage:
    test_settings = fresh_database(settings)
    db = make_mongo(test_settings)[test_settings.mongo.database]
    redis = make_redis(test_settings)
    live = LiveViews(redis, test_settings.live)
    producer = ListProducer()
    processor = StorageProcessor(
        test_settings,
        PostgresWriter(lambda: connect_postgres(test_settings, "storage-test")),
        MongoLabels(db),
        live,
        producer,
    )
    return Storage(test_settings, processor, producer, live, db, redis)


def scored(tx: Transaction, score: float, at: datetime | None = None) -> ScoredTransaction:
    """A transaction as the scoring consumer would route it (the score is the test's choice)."""
    return ScoredTransaction(
        **tx.model_dump(exclude_none=True, include=set(Transaction.model_fields)),
        score=score,
        predicted_fraud=score >= 0.5,
        threshold=0.5,
        model_version="v0001",
        xgb_score=score,
        lstm_score=score,
        reasons=["amount 14x this wallet's median"] if score >= 0.5 else [],
        scored_at=at or datetime.now(UTC),
    )


def simulated_scored(count: int, seed: int = 60) -> tuple[list[ScoredTransaction], list[Label]]:
    txs, labels = simulated(count, seed=seed)
    fraud = {label.tx_id for label in labels}
    now = datetime.now(UTC)
    out = [
        scored(tx, 0.9 if tx.tx_id in fraud else 0.02 * (i % 20), now - timedelta(seconds=i % 90))
        for i, tx in enumerate(txs)
    ]
    return out, labels


def feed(storage: Storage, values: list[bytes | None], topic: str, batch: int = 250) -> ListSource:
    """Run the storage processor over ``values`` as one partition of ``topic``, until they are done."""
    source = ListSource(values, topic=topic)
    run(source, storage.processor, BatchPolicy(max_records=batch, max_wait_s=0), stop_when_idle=True)
    return source
