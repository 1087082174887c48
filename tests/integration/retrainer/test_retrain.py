"""Retraining from MongoDB's labels: a candidate promoted and used by the scorer, a worse one rejected."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from fraudcore.clients.mongo import make_mongo
from fraudcore.clients.redis import make_redis
from fraudcore.features import FeatureConfig, FeatureEngine, RedisStore
from fraudcore.models.registry import ModelWatcher, latest_approved, read_manifest, versions
from fraudcore.schemas import encode
from fraudcore.settings import Settings
from fraudcore.stream.loop import BatchPolicy, run
from fraudcore.stream.memory import ListSource
from fraudcore.training import runs
from fraudcore.training.train import fit
from ml_consumer.processor import ScoringProcessor
from retrainer import lock
from retrainer.run import retrain
from retrainer.service import Retrainer
from storage_consumer.labels import MongoLabels
from tests.helpers import unique
from tests.integration.ml_consumer.conftest import ListProducer, simulated

COUNT = 12_000


@dataclass
class Pipeline:
    settings: Settings
    db: Any
    scorer: ScoringProcessor
    later: list[bytes]  # transactions not scored yet


@pytest.fixture(scope="module")
def scored_db(settings: Settings) -> str:
    """A MongoDB database holding the scored simulated stream and its labels (shared by the module)."""
    return unique("retrain")


@pytest.fixture
def pipeline(
    settings: Settings, trained: tuple[Path, Any], tmp_path: Path, scored_db: str
) -> Iterator[Pipeline]:
    models = tmp_path / "models"
    shutil.copytree(trained[0], models)
    test = settings.model_copy(
        update={
            "mongo": settings.mongo.model_copy(update={"database": scored_db}),
            "models": settings.models.model_copy(update={"dir": models}),
            "retrain": settings.retrain.model_copy(update={"tolerance": 0.25, "min_labels": 20}),
        }
    )
    db = make_mongo(test)[scored_db]
    engine = FeatureEngine(RedisStore(make_redis(test), prefix=f"{scored_db}:"), FeatureConfig())
    watcher = ModelWatcher(models, every_s=0.0)
    scorer = ScoringProcessor(test, db, ListProducer(), engine, watcher)
    txs, labels = simulated(COUNT + 500, seed=90)
    if db["transactions"].estimated_document_count() == 0:  # the first test of the module scores them
        source = ListSource([encode(t) for t in txs[:COUNT]], topic=test.topics.transactions.name)
        run(source, scorer, BatchPolicy(max_records=2000, max_wait_s=0), stop_when_idle=True)
        scored = {t.tx_id for t in txs[:COUNT]}
        MongoLabels(db).apply([x for x in labels if x.tx_id in scored])  # as the storage consumer does
    yield Pipeline(test, db, scorer, [encode(t) for t in txs[COUNT:]])
    watcher.close()


def test_a_retrain_promotes_a_candidate_and_the_scorer_switches_to_it(pipeline: Pipeline) -> None:
    with TestClient(create_app(pipeline.settings)) as client:
        requested = client.post("/retrain", headers={"X-API-Key": "test-key"})
        assert requested.status_code == 202 and requested.json()["status"] == "requested"
        Retrainer(pipeline.settings, pipeline.db).requested()  # what the service's poll job does
        record = client.get(f"/retrain/runs/{requested.json()['id']}").json()
    assert record["status"] == "promoted", record["reason"]
    assert record["trigger"] == "api" and record["champion"]["version"] == "v0001"
    assert record["window"]["rows"] == COUNT and record["window"]["labelled_fraud"] >= 100
    assert record["window"]["holdout_rows"] == COUNT // 5
    candidate = record["candidate"]["version"]
    assert candidate == "v0002" and latest_approved(pipeline.settings.models.dir) == "v0002"
    for side in ("champion", "candidate"):
        assert 0 < record[side]["metrics"]["average_precision"] <= 1
    manifest = read_manifest(pipeline.settings.models.dir, "v0002")
    assert manifest["approved"] and manifest["lstm"] == "fine-tuned from v0001"
    assert manifest["training_window"]["source"] == "mongodb"

    # the scoring consumer picks it up between batches, without a restart
    source = ListSource(pipeline.later, topic=pipeline.settings.topics.transactions.name)
    run(source, pipeline.scorer, BatchPolicy(max_records=500, max_wait_s=0), stop_when_idle=True)
    assert pipeline.scorer.models.version is not None and pipeline.scorer.models.version.name == "v0002"
    last = pipeline.db["transactions"].find_one(
        {"_id": {"$in": [r.value and _id(r.value) for r in source.records]}}
    )
    assert last is not None and last["model_version"] == "v0002"


def _id(raw: bytes) -> str:

    return str(orjson.loads(raw)["tx_id"])


def test_a_worse_candidate_is_rejected_and_kept_with_the_reason(pipeline: Pipeline) -> None:
    def sabotaged(history: Any, rows: np.ndarray, known_at: float, config: Any, lstm: Any) -> Any:
        real = history.frame
        shuffled = real.copy()
        shuffled["label_time"] = np.random.default_rng(0).permutation(shuffled["label_time"].to_numpy())
        history.frame = shuffled  # labels on random transactions: it learns nothing true
        try:
            return fit(history, rows, known_at, config, None)
        finally:
            history.frame = real  # the held-out period is judged on the true labels

    before = latest_approved(pipeline.settings.models.dir)
    retrainer = Retrainer(pipeline.settings, pipeline.db)
    record = runs.RunRecord(
        id=unique("run"), trigger="cli", status="requested", requested_at=datetime.now(UTC)
    )

    assert lock.acquire(pipeline.db, "retrainer", retrainer.holder, 60)
    try:
        done = retrain(pipeline.settings, pipeline.db, record, fit_fn=sabotaged)
    finally:
        lock.release(pipeline.db, "retrainer", retrainer.holder)
    assert done.status == "rejected", done.reason
    assert done.reason and "worse than the champion" in done.reason
    assert done.candidate is not None and done.candidate.version in versions(pipeline.settings.models.dir)
    assert not read_manifest(pipeline.settings.models.dir, done.candidate.version)["approved"]
    assert latest_approved(pipeline.settings.models.dir) == before  # the scorer keeps the champion
    stored = runs.get_run(pipeline.db, record.id)  # recorded, as the API and Streamlit show it
    assert stored is not None and (stored.status, stored.reason) == ("rejected", done.reason)
    assert stored.candidate == done.candidate and stored.champion == done.champion


def test_too_few_labels_skip_the_run_with_the_reason(settings: Settings, trained: tuple[Path, Any]) -> None:
    test = settings.model_copy(
        update={
            "mongo": settings.mongo.model_copy(update={"database": unique("empty")}),
            "models": settings.models.model_copy(update={"dir": trained[0]}),
        }
    )
    db = make_mongo(test)[test.mongo.database]
    record = Retrainer(test, db).run_now("cli")
    assert record.status == "skipped" and "transactions scored" in (record.reason or "")
    assert versions(trained[0]) == ["v0001"]


def test_only_one_run_at_a_time(settings: Settings) -> None:
    db = make_mongo(settings)[unique("locks")]
    assert lock.acquire(db, "retrainer", "a", ttl_s=60)
    assert not lock.acquire(db, "retrainer", "b", ttl_s=60)
    lock.release(db, "retrainer", "a")
    assert lock.acquire(db, "retrainer", "b", ttl_s=60)
    db[lock.LOCKS].update_one(
        {"_id": "retrainer"}, {"$set": {"expires_at": datetime.now(UTC) - timedelta(1)}}
    )
    assert lock.acquire(db, "retrainer", "c", ttl_s=60)  # a dead holder's lease expires
