from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from fraudcore.schemas import (
    DeadLetter,
    InvalidMessage,
    Label,
    ScoredTransaction,
    Transaction,
    TxType,
    decode,
    encode,
)


def tx_fields(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "tx_id": "tx-0001",
        "event_time": "2026-11-29T10:00:00+00:00",
        "sender_account_id": "acc-1",
        "sender_address": "0x1111",
        "receiver_address": "0x2222",
        "amount": 0.25,
        "amount_usd": 812.5,
        "chain": "ethereum",
        "asset": "ETH",
        "fee": 0.0004,
        "tx_type": "withdrawal",
        "channel": "mobile",
        "device_id": "dev-9",
        "ip_country": "DE",
        "is_new_device": False,
        "is_new_country": False,
    }
    fields.update(overrides)
    return fields


def raw(**overrides: Any) -> bytes:
    return json.dumps(tx_fields(**overrides)).encode()


def test_round_trip_keeps_every_field() -> None:
    tx = decode(Transaction, raw())
    assert tx.tx_type is TxType.WITHDRAWAL
    assert tx.event_time == datetime(2026, 11, 29, 10, tzinfo=UTC)
    assert decode(Transaction, encode(tx)) == tx
    assert tx.key == b"0x1111"


def test_optional_fields_may_be_missing() -> None:
    minimal = {k: v for k, v in tx_fields().items() if Transaction.model_fields[k].is_required()}
    tx = decode(Transaction, json.dumps(minimal).encode())
    assert tx.chain is None and tx.device_id is None
    assert b"chain" not in encode(tx)


def test_ground_truth_never_travels_on_a_transaction() -> None:
    with pytest.raises(InvalidMessage, match="is_fraud: Extra inputs are not permitted"):
        decode(Transaction, raw(is_fraud=True))


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (b"{not json", "invalid JSON"),
        (b"[]", "Input should be an object"),
        (raw(amount=-1), "amount: Input should be greater than or equal to 0"),
        (raw(amount="12.5"), "amount: Input should be a valid number"),
        (raw(amount_usd=1e30), "amount_usd: Input should be less than or equal to"),
        (b'{"amount": NaN}', "amount"),
        (raw(event_time="2026-11-29T10:00:00"), "event_time: Input should have timezone info"),
        (
            raw(event_time="1970-01-01T00:00:00Z"),
            "event_time: Input should be greater than or equal to 2009-01-03",
        ),
        (raw(event_time="2100-01-01T00:00:00Z"), "event_time: Input should be less than 2100-01-01"),
        (raw(tx_id=""), "tx_id: String should have at least 1 character"),
        (raw(tx_id="x" * 10_000), "tx_id: String should have at most 128 characters"),
        (raw(sender_address="has space"), "sender_address: String should match pattern"),
        (raw(ip_country="germany"), "ip_country: String should match pattern"),
        (raw(tx_type="teleport"), "tx_type: Input should be"),
        (raw(is_new_device="yes"), "is_new_device: Input should be a valid boolean"),
        (None, "empty message"),
    ],
)
def test_invalid_messages_are_refused_with_a_reason(message: bytes | None, reason: str) -> None:
    with pytest.raises(InvalidMessage) as caught:
        decode(Transaction, message)
    assert reason in caught.value.reason


def test_event_times_are_kept_in_utc() -> None:
    tx = decode(Transaction, raw(event_time="2026-11-29T12:00:00+02:00"))
    assert tx.event_time == datetime(2026, 11, 29, 10, tzinfo=UTC)
    assert tx.event_time.utcoffset() is not None and not tx.event_time.utcoffset()
    assert b'"event_time":"2026-11-29T10:00:00Z"' in encode(tx)


def test_free_text_refuses_nul_which_postgresql_cannot_store() -> None:
    """A NUL in a label's note or a reason would fail the storage consumer's PostgreSQL write on
    every retry (a poison message): it is refused here, so it goes to the dead-letter topic."""
    label = {"tx_id": "tx-1", "is_fraud": True, "labelled_at": "2026-11-29T10:00:00Z", "note": "a\x00b"}
    with pytest.raises(InvalidMessage, match="note: String should match pattern"):
        decode(Label, json.dumps(label).encode())
    assert (
        decode(Label, json.dumps(label | {"note": "a\nb"}).encode()).note == "a\nb"
    )  # other control characters pass
    scored = json.loads(raw()) | {"score": 0.5, "predicted_fraud": False, "threshold": 0.5}
    scored |= {"model_version": "v1", "scored_at": "2026-11-29T10:00:01Z", "reasons": ["x\x00"]}
    with pytest.raises(InvalidMessage, match=r"reasons\.0: String should match pattern"):
        decode(ScoredTransaction, json.dumps(scored).encode())


def test_missing_fields_are_each_named() -> None:
    with pytest.raises(InvalidMessage) as caught:
        decode(Transaction, b"{}")
    for field in ("tx_id", "event_time", "sender_address", "amount_usd"):
        assert f"{field}: Field required" in caught.value.reason


def test_a_scored_transaction_extends_the_transaction() -> None:
    tx = decode(Transaction, raw())
    scored = ScoredTransaction(
        **tx.model_dump(),
        score=0.93,
        predicted_fraud=True,
        threshold=0.5,
        model_version="v0001",
        reasons=["amount 14x this wallet's median"],
        scored_at=datetime.now(UTC),
    )
    back = decode(ScoredTransaction, encode(scored))
    assert back == scored
    with pytest.raises(InvalidMessage, match="score: Input should be less than or equal to 1"):
        decode(ScoredTransaction, encode(scored).replace(b'"score":0.93', b'"score":1.5'))


def test_a_label_arrives_separately() -> None:
    label = Label(tx_id="tx-0001", is_fraud=True, typology="peel_chain", labelled_at=datetime.now(UTC))
    assert decode(Label, encode(label)) == label
    assert label.source == "ground_truth"


def test_a_dead_letter_keeps_the_original_bytes() -> None:
    original = b"\xff\xfe not utf-8 \x00"
    letter = DeadLetter.of(
        service="ml_consumer",
        topic="transactions",
        partition=3,
        offset=42,
        reason="invalid JSON",
        original=original,
    )
    assert decode(DeadLetter, encode(letter)).original == original
