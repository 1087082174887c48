"""`python -m ml_consumer` as a process: kill -9 mid-stream, restart: MongoDB ends with the produced set."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from fraudcore.clients.kafka import ensure_topics, make_admin, make_consumer
from fraudcore.clients.mongo import make_mongo
from fraudcore.schemas import ScoredTransaction, decode
from fraudcore.settings import Settings, SimulatorSettings, TopicSettings, TopicSpec
from simulator.economy import Economy
from simulator.output import produce_live
from tests.helpers import free_port, start_service, unique, wait_for
from tests.integration.test_kafka import poll_until

COUNT = 6000


@pytest.fixture
def service_settings(settings: Settings, trained: tuple[Path, Any], tmp_path: Path) -> Settings:
    topics = TopicSettings(
        **{
            name: TopicSpec(name=unique(name.replace("_", "-")), partitions=p)
            for name, p in (
                ("transactions", 4),
                ("fraud", 2),
                ("legit", 4),
                ("labels", 2),
                ("dead_letters", 1),
            )
        }
    )
    admin = make_admin(settings)
    ensure_topics(admin, topics.all())
    admin.close()
    return settings.model_copy(
        update={
            "topics": topics,
            "mongo": settings.mongo.model_copy(update={"database": unique("svc")}),
            "models": settings.models.model_copy(update={"dir": trained[0]}),
            "scoring": settings.scoring.model_copy(
                update={"group_id": unique("scorers"), "metrics_port": free_port(), "batch_max_records": 500}
            ),
        }
    )


def test_kill_9_mid_stream_then_restart_stores_exactly_the_produced_set(
    service_settings: Settings, tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    settings = service_settings
    economy = Economy(
        SimulatorSettings(accounts=500, fraud_rate=0.02),
        seed=40,
        start=datetime(2026, 7, 1, tzinfo=UTC),
        stamp_produced_at=True,
    )
    produced = produce_live(economy, settings, rate=20_000, count=COUNT)
    assert produced.transactions == COUNT
    stored = make_mongo(settings)[settings.mongo.database]["transactions"]
    log = tmp_path / "ml_consumer.log"

    first = start_service("ml_consumer", settings, log)
    processes.append(first)
    wait_for(lambda: stored.count_documents({}) >= 1000, 120, "the first thousand scored")
    os.killpg(first.pid, signal.SIGKILL)  # mid-stream, no goodbye
    first.wait(10)
    assert stored.count_documents({}) < COUNT

    second = start_service("ml_consumer", settings, log)
    processes.append(second)
    wait_for(lambda: stored.count_documents({}) >= COUNT, 180, f"all {COUNT} scored")
    time.sleep(2)
    assert stored.count_documents({}) == COUNT  # exactly: nothing lost, nothing twice

    metrics = httpx.get(f"http://127.0.0.1:{settings.scoring.metrics_port}/metrics", timeout=5).text
    assert (
        'fraud_scoring_messages_total{outcome="scored"}' in metrics and "fraud_scoring_model_info" in metrics
    )

    second.send_signal(signal.SIGTERM)
    assert second.wait(30) == 0  # finishes its batch, commits, closes
    text = log.read_text()
    assert "stopping: last batch committed" in text and "Traceback" not in text

    consumer = make_consumer(
        settings, unique("check"), settings.topics.fraud.name, settings.topics.legit.name
    )
    routed: set[str] = set()
    deadline = time.monotonic() + 60
    while len(routed) < COUNT and time.monotonic() < deadline:  # read by distinct ids: some come twice
        routed |= {decode(ScoredTransaction, r.value).tx_id for r in poll_until(consumer, 1, timeout_s=1)}
    consumer.close()
    assert len(routed) == COUNT  # every transaction routed (some twice after the kill: at-least-once)


def test_stopped_while_the_lstm_compiles_it_exits_cleanly(
    service_settings: Settings, tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    """A process that exited while XLA compiled crashed in the interpreter's teardown (SIGSEGV)."""
    settings = service_settings
    economy = Economy(SimulatorSettings(accounts=300), seed=42, start=datetime(2026, 7, 1, tzinfo=UTC))
    produce_live(economy, settings, rate=20_000, count=2000)
    stored = make_mongo(settings)[settings.mongo.database]["transactions"]
    log = tmp_path / "ml_consumer.log"
    scorer = start_service("ml_consumer", settings, log)
    processes.append(scorer)
    wait_for(lambda: stored.count_documents({}) >= 1000, 60, "1000 scored")
    compiling = "LSTM compiled by XLA" not in log.read_text()  # 1-3 s after the version loaded: ~10 s to go
    scorer.send_signal(signal.SIGTERM)
    assert scorer.wait(30) == 0
    text = log.read_text()
    assert "Traceback" not in text
    if compiling:  # (else this machine compiled faster than it scored 1,000, and there was nothing to stop)
        assert "LSTM compiling stopped" in text or "LSTM compiled by XLA" in text


def scored_count(port: int) -> float:
    for line in httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text.splitlines():
        if line.startswith('fraud_scoring_messages_total{outcome="scored"}'):
            return float(line.split()[-1])
    return 0.0


def test_two_instances_split_the_partitions(
    service_settings: Settings, tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    settings = service_settings
    other = settings.model_copy(
        update={"scoring": settings.scoring.model_copy(update={"metrics_port": free_port()})}
    )
    log = tmp_path / "scorers.log"
    processes += [start_service("ml_consumer", settings, log), start_service("ml_consumer", other, log)]
    time.sleep(8)  # both join the group before the data arrives
    economy = Economy(
        SimulatorSettings(accounts=500, fraud_rate=0.02),
        seed=41,
        start=datetime(2026, 7, 1, tzinfo=UTC),
        stamp_produced_at=True,
    )
    produce_live(economy, settings, rate=2000, count=4000)
    stored = make_mongo(settings)[settings.mongo.database]["transactions"]
    wait_for(lambda: stored.count_documents({}) >= 4000, 180, "all 4000 scored")
    counts = [scored_count(settings.scoring.metrics_port), scored_count(other.scoring.metrics_port)]
    assert all(c > 0 for c in counts), counts  # both did part of the work
    assert sum(counts) >= 4000 and stored.count_documents({}) == 4000
