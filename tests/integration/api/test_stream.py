"""The WebSocket: a transaction produced to Kafka reaches a connected client, filtered, with heartbeats."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from fraudcore.clients.kafka import make_consumer, make_producer
from fraudcore.schemas import encode
from fraudcore.stream import BatchPolicy, run
from fraudcore.stream.kafka import KafkaSource
from tests.helpers import unique
from tests.integration.api.conftest import Served
from tests.integration.stores import scored, simulated_scored


@pytest.fixture
def storage_consumer(served: Served) -> Iterator[None]:
    """The storage consumer's loop on the real topics, in a thread (the process is tested elsewhere)."""
    settings = served.storage.settings
    t = settings.topics
    consumer = make_consumer(settings, unique("ws-storers"), t.fraud.name, t.legit.name)
    stop = threading.Event()
    thread = threading.Thread(
        target=run,
        args=(
            KafkaSource(consumer),
            served.storage.processor,
            BatchPolicy(max_records=100, max_wait_s=0.01),
            stop,
        ),
        daemon=True,
    )
    thread.start()
    yield
    stop.set()
    thread.join(10)
    consumer.close()


def receive_until(ws: Any, kind: str, limit: int = 50) -> dict[str, Any]:
    for _ in range(limit):
        message: dict[str, Any] = ws.receive_json()
        if message["type"] == kind:
            return message
    raise AssertionError(f"no {kind} message in {limit}")


@pytest.mark.timeout(120)
def test_a_transaction_produced_to_kafka_reaches_a_filtered_client(
    served: Served, storage_consumer: None
) -> None:
    settings = served.storage.settings
    fresh, _ = simulated_scored(2, seed=81)
    legit, fraud = scored(fresh[0], 0.05), scored(fresh[1], 0.97)
    with served.client.websocket_connect("/ws/transactions?fraud_only=true") as ws:
        hello = ws.receive_json()
        assert hello == {
            "type": "hello",
            "filters": {"fraud_only": True, "min_score": 0.0, "asset": None},
            "batch": False,
        }
        producer = make_producer(settings, "ws-test")
        producer.send(settings.topics.legit.name, key=legit.key, value=encode(legit))
        producer.send(settings.topics.fraud.name, key=fraud.key, value=encode(fraud))
        producer.flush()
        producer.close()
        got = receive_until(ws, "transaction")
        assert got["data"]["tx_id"] == fraud.tx_id and got["data"]["score"] == pytest.approx(0.97)
        assert got["data"]["reasons"] == fraud.reasons
        beat = receive_until(ws, "heartbeat")  # only heartbeats follow: the legit one was filtered out
        assert beat["sent"] == 1 and beat["dropped"] == 0

        ws.send_json({"min_score": 2})
        error = receive_until(ws, "error")
        assert "min_score" in error["message"]
        ws.send_text("not json")
        assert "invalid JSON" in receive_until(ws, "error")["message"]
        ws.send_json({"fraud_only": False, "min_score": 0.0})
        assert receive_until(ws, "filters")["filters"]["fraud_only"] is False
        again = scored(simulated_scored(3, seed=82)[0][2], 0.01)
        producer = make_producer(settings, "ws-test")
        producer.send(settings.topics.legit.name, key=again.key, value=encode(again))
        producer.flush()
        producer.close()
        assert receive_until(ws, "transaction")["data"]["tx_id"] == again.tx_id


@pytest.mark.timeout(120)
def test_a_batching_client_gets_one_frame_per_stored_batch(served: Served, storage_consumer: None) -> None:
    settings = served.storage.settings
    fresh, _ = simulated_scored(30, seed=83)
    txs = [scored(tx, 0.99 if i % 3 == 0 else 0.02) for i, tx in enumerate(fresh)]
    with served.client.websocket_connect("/ws/transactions?batch=true&min_score=0.5") as ws:
        assert ws.receive_json()["batch"] is True
        producer = make_producer(settings, "ws-test")
        for tx in txs:
            topic = settings.topics.fraud.name if tx.score > 0.5 else settings.topics.legit.name
            producer.send(topic, key=tx.key, value=encode(tx))
        producer.flush()
        producer.close()
        got: list[dict[str, Any]] = []
        while len(got) < 10:
            frame = receive_until(ws, "transactions")
            assert isinstance(frame["data"], list) and frame["data"]
            got += frame["data"]
        assert sorted(d["tx_id"] for d in got) == sorted(t.tx_id for t in txs if t.score > 0.5)
        assert receive_until(ws, "heartbeat")["sent"] == 10


def test_invalid_filters_on_connect_are_refused_with_the_reason(served: Served) -> None:
    with served.client.websocket_connect("/ws/transactions?min_score=high") as ws:
        message = ws.receive_json()
        assert message["type"] == "error" and "min_score" in message["message"]


def test_the_viewer_is_served(served: Served) -> None:
    page = served.client.get("/viewer")
    assert page.status_code == 200 and "/ws/transactions" in page.text and "<script>" in page.text
