"""The scoring consumer runs a version trained on a user's CSV, on transactions without optional fields."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from fraudcore.clients.mongo import make_mongo
from fraudcore.clients.redis import make_redis
from fraudcore.features import FeatureConfig, FeatureEngine, RedisStore
from fraudcore.mapping import ColumnMapping, map_file
from fraudcore.models.registry import ModelWatcher
from fraudcore.schemas import ScoredTransaction, decode, encode
from fraudcore.settings import Settings
from fraudcore.stream import BatchPolicy, run
from fraudcore.stream.memory import ListSource
from ml_consumer.processor import ScoringProcessor
from tests.helpers import unique
from tests.integration.ml_consumer.conftest import ListProducer


def test_a_version_trained_from_a_csv_scores_that_file_in_the_consumer(
    settings: Settings,
    byod_trained: tuple[Path, subprocess.CompletedProcess[str]],
    byod_csv: tuple[Path, Path],
    tmp_path: Path,
) -> None:
    models = tmp_path / "models"
    shutil.copytree(byod_trained[0], models)
    test_settings = settings.model_copy(
        update={
            "mongo": settings.mongo.model_copy(update={"database": unique("byod")}),
            "models": settings.models.model_copy(update={"dir": models}),
        }
    )
    db = make_mongo(test_settings)[test_settings.mongo.database]
    engine = FeatureEngine(RedisStore(make_redis(test_settings), prefix=unique("fs") + ":"), FeatureConfig())
    producer = ListProducer()
    watcher = ModelWatcher(models, every_s=0.0)
    processor = ScoringProcessor(test_settings, db, producer, engine, watcher)

    csv_path, mapping_path = byod_csv
    rows = [r for good, _ in map_file(csv_path, ColumnMapping.load(mapping_path)) for r in good][-3000:]
    assert all(r.tx.device_id is None and r.tx.channel is None for r in rows)  # nothing optional
    source = ListSource([encode(r.tx) for r in rows], topic=test_settings.topics.transactions.name)
    stats = run(source, processor, BatchPolicy(max_records=500, max_wait_s=0), stop_when_idle=True)
    watcher.close()
    assert stats.records == 3000 and source.committed == 2999  # the last offset

    topics = test_settings.topics
    routed = {
        s.tx_id: s
        for s in (
            decode(ScoredTransaction, v)
            for v in producer.on(topics.fraud.name) + producer.on(topics.legit.name)
        )
    }
    assert len(routed) == 3000 and {s.model_version for s in routed.values()} == {"v0001"}
    assert not producer.on(topics.dead_letters.name)
    fraud = [routed[r.tx.tx_id].score for r in rows if r.is_fraud]
    legit = [routed[r.tx.tx_id].score for r in rows if not r.is_fraud]
    assert fraud and sum(fraud) / len(fraud) > 5 * sum(legit) / len(legit)
    flagged = [s for s in routed.values() if s.predicted_fraud]
    assert flagged and all(1 <= len(s.reasons) <= 3 for s in flagged)
