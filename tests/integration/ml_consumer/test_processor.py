"""Scoring a stream: each valid transaction stored and routed once, each invalid one dead-lettered."""

from __future__ import annotations

import json
import shutil

from fraudcore.features import AddressState
from fraudcore.schemas import DeadLetter, ScoredTransaction, Transaction, decode, encode
from fraudcore.stream import BatchPolicy, run
from fraudcore.stream.memory import ListSource
from fraudcore.stream.ports import Record
from ml_consumer.processor import _from_mongo
from tests.integration.ml_consumer.conftest import Scoring, simulated

BAD = [
    b"not json",
    b'{"tx_id": "x"}',
    json.dumps(
        {
            "tx_id": "neg",
            "event_time": "2026-06-01T00:00:00Z",
            "sender_account_id": "a",
            "sender_address": "0xa",
            "receiver_address": "0xb",
            "amount": -1,
            "amount_usd": 1,
        }
    ).encode(),
    b"",
]


def test_every_message_is_scored_or_dead_lettered(scoring: Scoring) -> None:
    txs, _ = simulated(2000)
    values = [encode(t) for t in txs]
    values[100:100] = BAD
    source = ListSource(values, topic=scoring.settings.topics.transactions.name)
    stats = run(source, scoring.processor, BatchPolicy(max_records=300, max_wait_s=0), stop_when_idle=True)
    assert stats.records == 2004 and source.committed == 2003

    topics = scoring.settings.topics
    assert scoring.db["transactions"].count_documents({}) == 2000
    routed = [
        decode(ScoredTransaction, v)
        for v in scoring.producer.on(topics.fraud.name) + scoring.producer.on(topics.legit.name)
    ]
    assert sorted(s.tx_id for s in routed) == sorted(t.tx_id for t in txs)
    assert all(s.predicted_fraud == (s.score >= s.threshold) for s in routed)
    assert {s.model_version for s in routed} == {"v0001"}
    riskiest = sorted(routed, key=lambda s: -s.score)[:20]
    assert all(1 <= len(s.reasons) <= 3 for s in riskiest)  # the scores that matter come with their reasons
    letters = [decode(DeadLetter, v) for v in scoring.producer.on(topics.dead_letters.name)]
    assert [d.original for d in letters] == BAD
    assert "invalid JSON" in letters[0].reason and "event_time: Field required" in letters[1].reason
    assert "amount: Input should be greater than or equal to 0" in letters[2].reason
    stored = scoring.db["transactions"].find_one({"_id": txs[0].tx_id})
    assert stored and stored["sender_address"] == txs[0].sender_address and 0 <= stored["score"] <= 1


def test_reasons_go_to_the_flagged_and_near_flagged_unless_asked_for_every_one(scoring: Scoring) -> None:
    txs, _ = simulated(1600)
    topic = scoring.settings.topics.transactions.name
    policy = BatchPolicy(max_records=200, max_wait_s=0)
    run(
        ListSource([encode(t) for t in txs[:800]], topic=topic),
        scoring.processor,
        policy,
        stop_when_idle=True,
    )
    first = [decode(ScoredTransaction, v) for _, _, v in scoring.producer.sent]
    floor = scoring.settings.scoring.reasons_from * first[0].threshold  # SCORING__REASONS_FROM: 0.5
    near = [s for s in first if s.score >= floor]
    assert near and len(near) < len(first)
    assert sum(bool(s.reasons) for s in near) >= 0.9 * len(near)
    assert not any(s.reasons for s in first if s.score < floor)

    scoring.processor.settings = scoring.settings.model_copy(
        update={"scoring": scoring.settings.scoring.model_copy(update={"reasons_from": 0.0})}
    )
    scoring.producer.sent.clear()
    run(
        ListSource([encode(t) for t in txs[800:]], topic=topic),
        scoring.processor,
        policy,
        stop_when_idle=True,
    )
    second = [decode(ScoredTransaction, v) for _, _, v in scoring.producer.sent]
    assert any(s.reasons for s in second if s.score < floor)  # every transaction explained


def test_a_replayed_batch_changes_nothing(scoring: Scoring) -> None:
    """A crash after writing, before committing: the batch is read again; nothing stored or counted twice."""
    txs, _ = simulated(1200)
    source = ListSource([encode(t) for t in txs], topic=scoring.settings.topics.transactions.name)
    run(source, scoring.processor, BatchPolicy(max_records=200, max_wait_s=0), stop_when_idle=True)
    first = {
        decode(ScoredTransaction, v).tx_id: decode(ScoredTransaction, v).score
        for v in scoring.producer.sent and [v for _, _, v in scoring.producer.sent]
    }
    source.committed = 599  # as if the last commits were lost
    source.rewind()
    scoring.producer.sent.clear()
    run(source, scoring.processor, BatchPolicy(max_records=200, max_wait_s=0), stop_when_idle=True)

    assert scoring.db["transactions"].count_documents({}) == 1200
    again = [decode(ScoredTransaction, v) for _, _, v in scoring.producer.sent]
    assert len(again) == 600 and all(first[s.tx_id] == s.score for s in again)  # routed again, same score
    sender = txs[-1].sender_address
    state = AddressState.from_bytes(scoring.redis.get(scoring.prefix + sender))
    assert state.n_sent == sum(t.sender_address == sender for t in txs)  # remembered once


def test_a_replay_its_state_forgot_is_routed_with_the_stored_score(scoring: Scoring) -> None:
    """MongoDB is asked about a replay only if its sender's state remembers it; the insert finds the rest."""
    txs, _ = simulated(400, seed=33)
    topics = scoring.settings.topics
    policy = BatchPolicy(max_records=200, max_wait_s=0)
    source = ListSource([encode(t) for t in txs], topic=topics.transactions.name)
    run(source, scoring.processor, policy, stop_when_idle=True)
    first = {s.tx_id: s.score for s in (decode(ScoredTransaction, v) for _, _, v in scoring.producer.sent)}
    for key in scoring.redis.scan_iter(match=scoring.prefix + "*"):  # the feature state is lost
        scoring.redis.delete(key)
    scoring.producer.sent.clear()
    scoring.processor._previous.clear()  # a restarted consumer
    source.committed = -1
    source.rewind()
    run(source, scoring.processor, policy, stop_when_idle=True)

    assert scoring.db["transactions"].count_documents({}) == 400
    again = [decode(ScoredTransaction, v) for _, _, v in scoring.producer.sent]
    assert sorted(s.tx_id for s in again) == sorted(t.tx_id for t in txs)
    assert all(first[s.tx_id] == s.score for s in again)  # the stored score, not a new one
    assert scoring.processor.last.replayed == 200 and scoring.processor.last.scored == 0


def test_labels_teach_exposure_even_when_they_come_first(scoring: Scoring) -> None:
    txs, labels = simulated(3000, seed=31)
    assert labels
    topics = scoring.settings.topics
    label = labels[0]
    target = next(t for t in txs if t.tx_id == label.tx_id)
    # the label arrives before its transaction was scored: kept, and applied once it is
    early = ListSource([encode(label)], topic=topics.labels.name)
    run(early, scoring.processor, BatchPolicy(max_records=10, max_wait_s=0), stop_when_idle=True)
    assert scoring.db["pending_labels"].count_documents({"_id": label.tx_id}) == 1
    source = ListSource([encode(t) for t in txs], topic=topics.transactions.name)
    run(source, scoring.processor, BatchPolicy(max_records=500, max_wait_s=0), stop_when_idle=True)
    assert scoring.db["pending_labels"].count_documents({}) == 0
    state = AddressState.from_bytes(scoring.redis.get(scoring.prefix + target.receiver_address))
    assert (
        state.bad_at is not None and abs(state.bad_at - label.labelled_at.timestamp()) < 0.001
    )  # MongoDB keeps ms


def test_a_newer_version_is_picked_up_between_batches_and_a_broken_one_refused(scoring: Scoring) -> None:
    txs, _ = simulated(900, seed=32)
    topics = scoring.settings.topics
    policy = BatchPolicy(max_records=300, max_wait_s=0)
    run(
        ListSource([encode(t) for t in txs[:300]], topic=topics.transactions.name),
        scoring.processor,
        policy,
        stop_when_idle=True,
    )
    shutil.copytree(scoring.models / "v0001", scoring.models / "v0002")
    manifest = json.loads((scoring.models / "v0002" / "manifest.json").read_text())
    (scoring.models / "v0002" / "manifest.json").write_text(json.dumps({**manifest, "version": "v0002"}))
    run(
        ListSource([encode(t) for t in txs[300:600]], topic=topics.transactions.name),
        scoring.processor,
        policy,
        stop_when_idle=True,
    )
    shutil.copytree(scoring.models / "v0001", scoring.models / "v0003")
    (scoring.models / "v0003" / "lstm.keras").write_bytes(b"broken")
    run(
        ListSource([encode(t) for t in txs[600:]], topic=topics.transactions.name),
        scoring.processor,
        policy,
        stop_when_idle=True,
    )
    versions = [decode(ScoredTransaction, v).model_version for _, _, v in scoring.producer.sent]
    assert versions == ["v0001"] * 300 + ["v0002"] * 600 or sorted(set(versions)) == ["v0001", "v0002"]
    assert versions.count("v0001") == 300 and versions.count("v0002") == 600  # v0003 refused, v0002 kept
    assert "v0003" in scoring.processor.models.refused
    assert scoring.db["transactions"].count_documents({}) == 900


def test_routed_messages_follow_the_schema_and_match_what_is_stored(scoring: Scoring) -> None:
    """Fraud / legit messages are encoded without pydantic: they must still be valid ScoredTransactions."""
    txs, _ = simulated(400, seed=33)
    by_id = {t.tx_id: t for t in txs}
    source = ListSource([encode(t) for t in txs], topic=scoring.settings.topics.transactions.name)
    run(source, scoring.processor, BatchPolicy(max_records=150, max_wait_s=0), stop_when_idle=True)
    assert len(scoring.producer.sent) == 400
    for topic, key, value in scoring.producer.sent:
        routed = decode(ScoredTransaction, value)  # strict, extra fields forbidden
        tx = by_id[routed.tx_id]
        assert key == tx.key and routed.model_dump(include=set(Transaction.model_fields)) == tx.model_dump()
        assert None not in json.loads(value).values()  # unset optional fields are left out, as encode() does
        topics = scoring.settings.topics
        assert topic == (topics.fraud.name if routed.predicted_fraud else topics.legit.name)
        doc = scoring.db["transactions"].find_one({"_id": routed.tx_id})
        assert doc is not None
        stored = ScoredTransaction.model_validate(_from_mongo(doc), strict=False)
        same = {"scored_at", "event_time", "produced_at"}  # MongoDB keeps milliseconds
        assert stored.model_dump(exclude=same) == routed.model_dump(exclude=same)
        assert abs((stored.scored_at - routed.scored_at).total_seconds()) < 0.001


def test_a_transaction_delivered_again_in_the_next_batch_is_routed_as_before_not_scored_again(
    scoring: Scoring,
) -> None:
    """A rebalance hands batch N's records out again while N is still being written: N+1 carries some."""
    txs, _ = simulated(400, seed=35)
    topic = scoring.settings.topics.transactions.name
    records = [Record(topic, 0, i, t.key, encode(t), 0) for i, t in enumerate(txs)]
    processor = scoring.processor
    first = processor.prepare(records[:200])
    second = processor.prepare(records[150:400])  # 150..199 again, before the first batch is written
    processor.write(first)
    processor.write(second)

    sent = [decode(ScoredTransaction, v) for _, _, v in scoring.producer.sent]
    assert len(sent) == 450
    by_id: dict[str, list[ScoredTransaction]] = {}
    for s in sent:
        by_id.setdefault(s.tx_id, []).append(s)
    twice = {tx_id: copies for tx_id, copies in by_id.items() if len(copies) == 2}
    assert sorted(twice) == sorted(t.tx_id for t in txs[150:200])
    assert all(a.model_dump() == b.model_dump() for a, b in twice.values())  # the same message again
    assert processor.last.scored == 200 and processor.last.replayed == 50
    assert scoring.db["transactions"].count_documents({}) == 400
    sender = txs[199].sender_address
    state = AddressState.from_bytes(scoring.redis.get(scoring.prefix + sender))
    assert state.n_sent == sum(t.sender_address == sender for t in txs)  # remembered once
