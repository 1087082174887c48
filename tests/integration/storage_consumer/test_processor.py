"""The storage processor: idempotent PostgreSQL, bounded live views, labels in either order, dead letters."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from fraudcore.live import decode_published
from fraudcore.schemas import DeadLetter, Label, decode, encode
from tests.integration.stores import Storage, feed, simulated_scored


def test_each_transaction_is_stored_and_counted_once_even_when_read_again(storage: Storage) -> None:
    txs, _ = simulated_scored(1200)
    fraud = [t for t in txs if t.predicted_fraud]
    assert 0 < len(fraud) < len(txs)
    topics = storage.settings.topics
    feed(storage, [encode(t) for t in txs if not t.predicted_fraud], topics.legit.name)
    feed(storage, [encode(t) for t in fraud], topics.fraud.name)
    source = feed(storage, [encode(t) for t in txs[:700]], topics.legit.name)  # a replay after a crash
    assert source.committed == 699

    assert storage.rows("SELECT count(*), count(DISTINCT tx_id) FROM scored_transactions") == [(1200, 1200)]
    assert storage.rows("SELECT count(*) FROM scored_transactions WHERE predicted_fraud") == [(len(fraud),)]
    totals = storage.live.totals()
    assert totals["n"] == 1200 and totals["fraud"] == len(fraud)  # the replay counted nothing
    snapshot = storage.live.snapshot(minutes=5)
    assert snapshot.transactions == 1200 and sum(snapshot.histogram) == 1200
    assert snapshot.fraud_usd == pytest.approx(sum(t.amount_usd for t in fraud))
    recent = storage.live.recent(limit=10_000)
    assert len(recent) == storage.settings.live.recent
    assert recent[0]["tx_id"] == fraud[-1].tx_id  # newest first: the last one stored
    alerts = storage.live.recent(limit=10_000, alerts_only=True)
    assert {a["tx_id"] for a in alerts} == {t.tx_id for t in fraud}
    top = storage.live.risky_wallets(limit=5)
    assert top and top[0][1] >= 1


def test_every_live_key_is_bounded_or_expires(storage: Storage) -> None:
    txs, _ = simulated_scored(900, seed=61)
    feed(storage, [encode(t) for t in txs], storage.settings.topics.legit.name)
    live = storage.settings.live
    keys = [k.decode() for k in storage.live.keys()]  # noqa: SIM118 - not a dict
    assert {k.split(":")[1] for k in keys} >= {"recent", "alerts", "minute", "risky", "totals"}
    for key in keys:
        kind = storage.redis.type(key).decode()
        if kind == "list":
            assert storage.redis.llen(key) <= live.recent, key
        elif key.endswith(":totals"):
            assert set(storage.redis.hkeys(key)) <= {b"n", b"fraud", b"usd", b"fraud_usd", b"since", b"dead"}
        else:
            assert 0 < storage.redis.ttl(key) <= live.window_hours * 3600 + 120, key
            if kind == "zset":
                assert storage.redis.zcard(key) <= live.top_wallets


def test_every_new_transaction_is_published_on_the_live_channel(storage: Storage) -> None:
    txs, _ = simulated_scored(300, seed=62)
    pubsub = storage.redis.pubsub()
    pubsub.subscribe(storage.settings.live.channel)
    assert pubsub.get_message(timeout=2)["type"] == "subscribe"
    feed(storage, [encode(t) for t in txs], storage.settings.topics.legit.name, batch=100)
    feed(storage, [encode(t) for t in txs], storage.settings.topics.legit.name, batch=100)  # replay
    got: list[str] = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.5)
        if message and message["type"] == "message":
            got += [tx["tx_id"] for tx in decode_published(message["data"])]
    pubsub.close()
    assert got == [t.tx_id for t in txs]  # each once, in order


def test_invalid_messages_become_dead_letters_and_the_rest_is_stored(storage: Storage) -> None:
    txs, _ = simulated_scored(50, seed=63)
    bad: list[bytes | None] = [
        b"{not json",
        None,
        encode(txs[0]).replace(b'"score":', b'"score":"high","x":'),
        encode(txs[1]).replace(b'"amount_usd":', b'"amount_usd":-'),
    ]
    feed(storage, [*bad, *[encode(t) for t in txs[2:]]], storage.settings.topics.fraud.name)
    letters = [decode(DeadLetter, v) for v in storage.producer.on(storage.settings.topics.dead_letters.name)]
    assert [d.offset for d in letters] == [0, 1, 2, 3]
    assert "invalid JSON" in letters[0].reason and "empty message" in letters[1].reason
    assert "score" in letters[2].reason and "amount_usd" in letters[3].reason
    assert letters[2].original == bad[2]
    assert storage.rows("SELECT count(*) FROM scored_transactions") == [(48,)]

    # the dead letters come back through the dead-letters topic: kept in Redis for the dashboard
    feed(storage, [encode(d) for d in letters], storage.settings.topics.dead_letters.name)
    assert [d["offset"] for d in storage.live.dead_letters()] == [3, 2, 1, 0]
    assert storage.live.totals()["dead"] == 4


def test_a_label_before_its_transaction_is_kept_and_applied_when_it_arrives(storage: Storage) -> None:
    txs, labels = simulated_scored(1500, seed=64)
    assert len(labels) >= 2
    early, late = labels[0], labels[1]
    by_id = {t.tx_id: t for t in txs}
    topics = storage.settings.topics
    mongo = storage.db["transactions"]
    analyst = Label(
        tx_id=early.tx_id,
        is_fraud=False,
        source="analyst",
        labelled_at=datetime.now(UTC),
        note="customer confirmed",
        analyst="ana",
    )
    feed(storage, [encode(early), encode(analyst)], topics.labels.name)  # nothing stored yet
    assert storage.db["labels_waiting"].count_documents({}) == 1
    pg = storage.rows(
        "SELECT source, is_fraud, typology FROM labels WHERE tx_id = %s ORDER BY 1", early.tx_id
    )
    assert pg == [("analyst", False, None), ("ground_truth", True, early.typology)]

    # the scoring consumer writes MongoDB, then routes the transaction
    for tx_id in (early.tx_id, late.tx_id):
        mongo.insert_one({"_id": tx_id, "amount_usd": by_id[tx_id].amount_usd})
    feed(storage, [encode(by_id[early.tx_id]), encode(by_id[late.tx_id])], topics.fraud.name)
    doc = mongo.find_one({"_id": early.tx_id})
    assert doc is not None
    assert doc["labels"]["ground_truth"]["is_fraud"] is True
    assert doc["labels"]["ground_truth"]["typology"] == early.typology
    assert doc["labels"]["analyst"]["note"] == "customer confirmed"
    assert storage.db["labels_waiting"].count_documents({}) == 0

    feed(storage, [encode(late)], topics.labels.name)  # after its transaction: straight onto the document
    doc = mongo.find_one({"_id": late.tx_id})
    assert doc is not None and doc["labels"]["ground_truth"]["is_fraud"] is True
    assert doc["labels"]["ground_truth"]["received_at"] <= datetime.now(UTC)
    joined = storage.rows(
        "SELECT count(*) FROM labels l JOIN scored_transactions t USING (tx_id) WHERE l.is_fraud"
    )
    assert joined == [(2,)]


def test_a_newer_label_replaces_an_older_one_never_the_reverse(storage: Storage) -> None:
    first = Label(tx_id="t-1", is_fraud=True, source="analyst", labelled_at=datetime(2026, 11, 1, tzinfo=UTC))
    second = first.model_copy(update={"is_fraud": False, "labelled_at": datetime(2026, 11, 2, tzinfo=UTC)})
    labels = storage.settings.topics.labels.name
    feed(storage, [encode(first), encode(second)], labels, batch=1)
    feed(storage, [encode(first)], labels)  # an old label read again
    assert storage.rows("SELECT is_fraud FROM labels WHERE tx_id = 't-1'") == [(False,)]
