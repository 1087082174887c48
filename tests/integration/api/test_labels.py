"""Analyst feedback: the key is required, unknown transactions refused, the label reaches both stores."""

from __future__ import annotations

from fraudcore.clients.kafka import make_consumer
from fraudcore.schemas import Label, decode
from tests.helpers import unique
from tests.integration.api.conftest import Served
from tests.integration.stores import feed
from tests.integration.test_kafka import poll_until


def test_posting_a_label_needs_the_key_and_a_known_transaction(served: Served) -> None:
    tx = served.txs[5]
    body = {"tx_id": tx.tx_id, "is_fraud": True, "note": "victim called", "analyst": "ana"}
    assert served.client.post("/labels", json=body).status_code == 401
    wrong = served.client.post("/labels", json=body, headers={"X-API-Key": "nope"})
    assert wrong.status_code == 403 and wrong.json()["detail"] == "wrong API key"
    key = {"X-API-Key": "test-key"}
    unknown = served.client.post("/labels", json={**body, "tx_id": "tx-unknown"}, headers=key)
    assert unknown.status_code == 404 and "tx-unknown" in unknown.json()["detail"]
    bad = served.client.post("/labels", json={**body, "is_fraud": "maybe", "colour": "red"}, headers=key)
    assert bad.status_code == 422
    assert {e["loc"][-1] for e in bad.json()["detail"]} == {"is_fraud", "colour"}


def test_an_analyst_label_goes_through_the_topic_into_postgres_and_mongodb(served: Served) -> None:
    storage, tx = served.storage, served.txs[7]
    storage.db["transactions"].insert_one({"_id": tx.tx_id})  # as the scoring consumer stored it
    response = served.client.post(
        "/labels",
        json={"tx_id": tx.tx_id, "is_fraud": True, "typology": "account_takeover", "note": "victim called"},
        headers={"X-API-Key": "test-key"},
    )
    assert response.status_code == 202, response.text
    assert response.json()["label"]["source"] == "analyst"

    topic = storage.settings.topics.labels.name
    consumer = make_consumer(storage.settings, unique("labels-check"), topic)
    [record] = poll_until(consumer, 1, timeout_s=30)
    consumer.close()
    label = decode(Label, record.value)
    assert (label.tx_id, label.is_fraud, label.source, label.note) == (
        tx.tx_id,
        True,
        "analyst",
        "victim called",
    )

    feed(storage, [record.value], topic)  # what the storage consumer does with it
    got = served.client.get(f"/transactions/{tx.tx_id}").json()
    assert [(x["source"], x["typology"], x["note"]) for x in got["labels"]] == [
        ("analyst", "account_takeover", "victim called")
    ]
    doc = storage.db["transactions"].find_one({"_id": tx.tx_id})
    assert doc is not None and doc["labels"]["analyst"]["is_fraud"] is True
