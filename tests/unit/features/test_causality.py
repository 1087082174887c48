"""No feature looks ahead: not at a later transaction, not at a label before it arrived."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from fraudcore.features import FEATURES, FeatureEngine, MemoryStore
from fraudcore.schemas import Transaction
from fraudcore.settings import SimulatorSettings
from fraudcore.training.history import featurise
from simulator.economy import Economy, SimulatedTransaction
from simulator.output import take


@pytest.fixture(scope="module")
def stream() -> tuple[list[Transaction], pd.DataFrame]:
    economy = Economy(
        SimulatorSettings(accounts=300, fraud_rate=0.03, label_delay_hours=2),
        seed=21,
        start=datetime(2026, 4, 1, tzinfo=UTC),
    )
    txs, labels = [], []
    for event in take(economy, 12_000):
        if isinstance(event, SimulatedTransaction):
            txs.append(event.tx)
        else:
            labels.append((event.tx_id, event.labelled_at.timestamp(), event.typology))
    return txs, pd.DataFrame(labels, columns=["tx_id", "labelled_at", "typology"])


def same(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.array_equal(a, b, equal_nan=True))


def test_features_of_a_prefix_do_not_depend_on_what_follows(
    stream: tuple[list[Transaction], pd.DataFrame],
) -> None:
    txs, labels = stream
    whole = featurise(txs, labels, progress=False)
    half = featurise(txs[:6000], labels, progress=False)
    assert same(whole.x[:6000], half.x) and same(whole.steps[:6000], half.steps)


def test_changing_a_later_transaction_changes_no_earlier_feature(
    stream: tuple[list[Transaction], pd.DataFrame],
) -> None:
    txs, labels = stream
    altered = list(txs)
    altered[8000] = txs[8000].model_copy(
        update={"amount_usd": 123456.0, "receiver_address": txs[10].sender_address}
    )
    a, b = featurise(txs, labels, progress=False), featurise(altered, labels, progress=False)
    assert same(a.x[:8000], b.x[:8000])
    assert not same(a.x[8000:], b.x[8000:])


def test_a_label_counts_only_from_its_arrival(stream: tuple[list[Transaction], pd.DataFrame]) -> None:
    txs, labels = stream
    assert len(labels) > 50
    with_labels = featurise(txs, labels, progress=False)
    without = featurise(txs, labels.iloc[:0], progress=False)
    first_arrival = labels["labelled_at"].min()
    before = np.array([t.event_time.timestamp() < first_arrival for t in txs])
    assert same(with_labels.x[before], without.x[before])  # nothing known before the first label arrived
    bad = FEATURES.index("receiver_known_bad")
    assert with_labels.x[~before, bad].sum() > 0 and without.x[:, bad].sum() == 0

    # delaying every label by a day delays its effect: no flag before the later arrival
    later = labels.assign(labelled_at=labels["labelled_at"] + 86400)
    delayed = featurise(txs, later, progress=False)
    times = np.array([t.event_time.timestamp() for t in txs])
    assert delayed.x[times < later["labelled_at"].min(), bad].sum() == 0


def test_a_wallet_first_transaction_has_no_history_features() -> None:
    engine = FeatureEngine(MemoryStore())
    tx = Transaction(
        tx_id="t",
        event_time=datetime(2026, 1, 1, tzinfo=UTC),
        sender_account_id="a",
        sender_address="0xa",
        receiver_address="0xb",
        amount=1.0,
        amount_usd=10.0,
    )
    row = engine.transform([tx])[0].named()
    assert math.isnan(row["amount_vs_usual"]) and math.isnan(row["seconds_since_last_log"])
    assert row["sender_tx_24h"] == 0 and row["receiver_seen_before"] == 0


def test_a_replayed_transaction_is_not_remembered_twice(
    stream: tuple[list[Transaction], pd.DataFrame],
) -> None:
    """At-least-once delivery: a batch may be featurised again after a crash; the state counts it once."""
    txs, _ = stream
    once, twice = FeatureEngine(MemoryStore()), FeatureEngine(MemoryStore())
    first = once.transform(txs[:3000])
    twice.transform(txs[:3000])
    again = twice.transform(txs[2500:3000])  # redelivered
    assert len(again) == 500 and again[0].tx_id == first[2500].tx_id
    rest_once = once.transform(txs[3000:4000])
    rest_twice = twice.transform(txs[3000:4000])
    assert str([f.values for f in rest_once]) == str([f.values for f in rest_twice])
