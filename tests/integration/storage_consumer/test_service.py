"""`python -m storage_consumer`: kill -9 mid-stream, restart: PostgreSQL has the produced set."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import httpx

from fraudcore.clients.kafka import make_producer
from fraudcore.clients.postgres import connect_postgres
from fraudcore.schemas import encode
from fraudcore.settings import Settings
from tests.helpers import free_port, isolated_topics, start_service, unique, wait_for
from tests.integration.stores import fresh_database, simulated_scored

COUNT = 6000


def stored(settings: Settings) -> tuple[int, int]:
    conn = connect_postgres(settings)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*), count(DISTINCT tx_id) FROM scored_transactions")
            row = cur.fetchone()
            assert row is not None
            return int(row[0]), int(row[1])
    finally:
        conn.close()


def test_kill_9_mid_stream_then_restart_stores_exactly_the_produced_set(
    settings: Settings, tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    settings = isolated_topics(fresh_database(settings))
    settings = settings.model_copy(
        update={
            "storage": settings.storage.model_copy(
                update={"group_id": unique("storers"), "metrics_port": free_port(), "batch_max_records": 300}
            )
        }
    )
    txs, labels = simulated_scored(COUNT, seed=70)
    producer = make_producer(settings, "test-routed")
    for tx in txs:
        topic = settings.topics.fraud.name if tx.predicted_fraud else settings.topics.legit.name
        producer.send(topic, key=tx.key, value=encode(tx))
    for label in labels:
        producer.send(settings.topics.labels.name, key=label.tx_id.encode(), value=encode(label))
    producer.flush()
    producer.close()
    log = tmp_path / "storage_consumer.log"

    first = start_service("storage_consumer", settings, log)
    processes.append(first)
    wait_for(lambda: stored(settings)[0] >= 1000, 120, "the first thousand stored")
    os.killpg(first.pid, signal.SIGKILL)  # mid-stream, no goodbye
    first.wait(10)
    assert stored(settings)[0] < COUNT

    second = start_service("storage_consumer", settings, log)
    processes.append(second)
    wait_for(lambda: stored(settings)[0] >= COUNT, 180, f"all {COUNT} stored")
    metrics_url = f"http://127.0.0.1:{settings.storage.metrics_port}/metrics"
    wait_for(lambda: "fraud_storage_messages_total" in httpx.get(metrics_url, timeout=5).text, 30, "metrics")
    assert stored(settings) == (COUNT, COUNT)  # exactly: nothing lost, nothing twice

    conn = connect_postgres(settings)
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM labels")
        assert cur.fetchone() == (len(labels),)
    conn.close()

    second.send_signal(signal.SIGTERM)
    assert second.wait(30) == 0  # finishes its batch, commits, closes
    text = log.read_text()
    assert "stopping: last batch committed" in text and "Traceback" not in text
