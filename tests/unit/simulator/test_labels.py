"""Ground truth: published apart from the transactions, after a delay, and not for every fraud."""

from __future__ import annotations

import statistics

from fraudcore.schemas import Label
from simulator.economy import SimulatedTransaction
from tests.unit.simulator.conftest import Stream


def test_labels_arrive_after_their_delay_and_in_order(stream: Stream) -> None:
    by_id = {t.tx.tx_id: t for t in stream.txs}
    waiting: list[Label] = []  # published, but the clock has not moved on since
    delays = []
    for event in stream.order:
        if isinstance(event, SimulatedTransaction):
            # a label comes out once the simulated clock passes its arrival time, not before
            assert all(label.labelled_at <= event.tx.event_time for label in waiting)
            waiting.clear()
            continue
        assert isinstance(event, Label)
        tx = by_id[event.tx_id]
        assert event.is_fraud and event.typology == tx.typology and event.source == "ground_truth"
        assert event.labelled_at > tx.tx.event_time
        waiting.append(event)
        delays.append((event.labelled_at - tx.tx.event_time).total_seconds() / 3600)
    assert 4 < statistics.median(delays) < 8  # the default: a median of 6 simulated hours


def test_some_fraud_is_never_labelled_and_legit_is_not_labelled(stream: Stream) -> None:
    fraud = {t.tx.tx_id for t in stream.txs if t.is_fraud}
    labelled = {label.tx_id for label in stream.labels}
    assert labelled <= fraud
    pending = {label.tx_id for label in stream.economy.pending_labels()}
    missing = fraud - labelled - pending
    assert 0.01 < len(missing) / len(fraud) < 0.1  # the default unlabelled fraction is 5 %
    assert abs(len(missing) - stream.economy.labels_withheld) <= 1  # the one made after the last taken


def test_transactions_carry_no_ground_truth(stream: Stream) -> None:
    fields = set(stream.txs[0].tx.model_dump())
    assert not fields & {"is_fraud", "typology", "label"}
