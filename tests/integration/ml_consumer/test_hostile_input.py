"""Hostile input: thousands of malformed and adversarial messages mixed with valid ones.

Every invalid message reaches the dead-letter topic with a reason and its original bytes, every
valid one is scored once (duplicates included), and nothing crashes or stalls.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

from fraudcore.schemas import DeadLetter, ScoredTransaction, decode, encode
from fraudcore.stream import BatchPolicy, run
from fraudcore.stream.memory import ListSource
from tests.integration.ml_consumer.conftest import Scoring, simulated

REQUIRED = [
    "tx_id",
    "event_time",
    "sender_account_id",
    "sender_address",
    "receiver_address",
    "amount",
    "amount_usd",
]


def _dump(d: dict[str, Any]) -> bytes:
    return json.dumps(d, allow_nan=True).encode()


def _set(field: str, value: Any) -> Callable[[dict[str, Any], bytes], bytes]:
    return lambda d, raw: _dump({**d, field: value})


def _without(d: dict[str, Any], field: str) -> bytes:
    return _dump({k: v for k, v in d.items() if k != field})


def _nested(depth: int) -> bytes:
    return b'{"tx_id": ' + b"[" * depth + b"]" * depth + b"}"


# each turns a valid transaction (as a dict, and as its bytes) into a message that must be refused
MUTATIONS: dict[str, Callable[[dict[str, Any], bytes], bytes | None]] = {
    "amount as a string": lambda d, raw: _dump({**d, "amount": str(d["amount"])}),
    "amount as a boolean": _set("amount", True),
    "huge tx_id": _set("tx_id", "x" * 100_000),
    "huge note field": lambda d, raw: _dump({**d, "note": "y" * 1_000_000}),
    "odd unicode address": _set("sender_address", "0x\u202e\u0000abc\U0001f4a9"),
    "unicode digits in amount": lambda d, raw: raw.replace(b'"amount":', b'"amount":"\xd9\xa3",', 1),
    "NaN amount": _set("amount", float("nan")),
    "infinite USD value": _set("amount_usd", float("inf")),
    "1e999 USD value": lambda d, raw: raw.replace(b'"amount_usd":', b'"amount_usd":1e999,"x":', 1),
    "negative amount": _set("amount", -5.0),
    "absurd USD value": _set("amount_usd", 1e30),
    "naive event time": _set("event_time", "2026-06-01T00:00:00"),
    "event time before Bitcoin": _set("event_time", "1800-01-01T00:00:00Z"),
    "event time as a number": _set("event_time", 1_750_000_000),
    "unknown transaction type": _set("tx_type", "steal"),
    "ground truth smuggled in": _set("is_fraud", True),
    "missing field": lambda d, raw: _without(d, random.choice(REQUIRED)),
    "null required field": lambda d, raw: _dump({**d, random.choice(REQUIRED): None}),
    "truncated JSON": lambda d, raw: raw[: len(raw) // 2],
    "not an object": lambda d, raw: random.choice([b"[1,2,3]", b"42", b'"tx"', b"null", b"true"]),
    "empty": lambda d, raw: b"",
    "tombstone": lambda d, raw: None,
    "invalid UTF-8": lambda d, raw: raw.replace(b'"tx_id":"', b'"tx_id":"\xff\xfe', 1),
    "deeply nested": lambda d, raw: _nested(5000),
    "binary garbage": lambda d, raw: bytes(random.getrandbits(8) for _ in range(64)),
}


def test_thousands_of_hostile_messages_are_dead_lettered_and_the_valid_ones_scored(scoring: Scoring) -> None:
    random.seed(13)
    txs, _ = simulated(3000, seed=33)
    values: list[bytes | None] = []
    invalid: dict[int, str] = {}
    valid_ids: set[str] = set()
    for i, tx in enumerate(txs):
        raw = encode(tx)
        values.append(raw)
        valid_ids.add(tx.tx_id)
        if i % 7 == 0:
            values.append(raw)  # a duplicate: valid, scored once
        for name in random.sample(sorted(MUTATIONS), 1):
            invalid[len(values)] = name
            values.append(MUTATIONS[name](json.loads(raw), raw))
    assert len(invalid) == 3000 and set(invalid.values()) == set(MUTATIONS)

    source = ListSource(values, topic=scoring.settings.topics.transactions.name)
    stats = run(source, scoring.processor, BatchPolicy(max_records=500, max_wait_s=0), stop_when_idle=True)
    assert stats.records == len(values) and source.committed == len(values) - 1  # nothing stalled

    topics = scoring.settings.topics
    letters = [decode(DeadLetter, v) for v in scoring.producer.on(topics.dead_letters.name)]
    assert {d.offset: d for d in letters}.keys() == invalid.keys()
    for letter in letters:
        assert letter.reason, invalid[letter.offset]
        assert letter.original == (values[letter.offset] or b""), invalid[letter.offset]
    assert scoring.db["transactions"].count_documents({}) == len(valid_ids)
    routed = {
        decode(ScoredTransaction, v).tx_id
        for t in (topics.fraud.name, topics.legit.name)
        for v in scoring.producer.on(t)
    }
    assert routed == valid_ids
