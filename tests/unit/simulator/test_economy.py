"""The economy: seeded determinism, the fraud rate, and ground truth kept apart from transactions."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import islice

from fraudcore.settings import SimulatorSettings
from simulator.economy import Economy, SimulatedTransaction
from simulator.typologies import TYPOLOGIES
from tests.unit.simulator.conftest import START, Stream


def first(seed: int, n: int = 3000, start: datetime = START) -> list[dict[str, object]]:
    economy = Economy(SimulatorSettings(accounts=500), seed=seed, start=start)
    txs = (e for e in economy.events() if isinstance(e, SimulatedTransaction))
    return [(e.tx.model_dump(), e.typology) for e in islice(txs, n)]  # type: ignore[misc]


def test_same_seed_same_stream() -> None:
    assert first(5) == first(5)


def test_another_seed_another_stream() -> None:
    a, b = first(5, 200), first(6, 200)
    assert {t["tx_id"] for t, _ in a}.isdisjoint({t["tx_id"] for t, _ in b})  # type: ignore[index]


def test_the_start_time_only_shifts_the_clock() -> None:
    later = datetime(2027, 1, 1, tzinfo=UTC)
    a, b = first(5, 500), first(5, 500, start=later)
    assert [t["tx_id"] for t, _ in a] == [t["tx_id"] for t, _ in b]  # type: ignore[index]
    assert b[10][0]["event_time"] - a[10][0]["event_time"] == later - START  # type: ignore[index,operator]


def test_events_come_in_time_order(stream: Stream) -> None:
    times = [t.tx.event_time for t in stream.txs]
    assert times == sorted(times)


def test_fraud_is_rare_and_every_typology_happens(stream: Stream) -> None:
    fraud = [t for t in stream.txs if t.is_fraud]
    assert 0.005 <= len(fraud) / len(stream.txs) <= 0.01
    assert {t.typology for t in fraud} == set(TYPOLOGIES)


def test_fraud_rate_follows_the_setting() -> None:
    economy = Economy(SimulatorSettings(accounts=500, fraud_rate=0.03), seed=2, start=START)
    txs = [e for e in islice(economy.events(), 60_000) if isinstance(e, SimulatedTransaction)]
    assert 0.02 <= sum(t.is_fraud for t in txs) / len(txs) <= 0.04


def test_no_fraud_when_the_rate_is_zero() -> None:
    economy = Economy(SimulatorSettings(accounts=200, fraud_rate=0.0), seed=2, start=START)
    assert not any(
        isinstance(e, SimulatedTransaction) and e.is_fraud for e in islice(economy.events(), 20_000)
    )


def test_wallets_keep_their_profile(stream: Stream) -> None:
    """A customer sends from its own chain, mostly from its home country and a known device."""
    by_account: dict[str, list[SimulatedTransaction]] = {}
    for t in stream.txs:
        if not t.is_fraud and t.tx.device_id is not None:
            by_account.setdefault(t.tx.sender_account_id, []).append(t)
    busy = [txs for txs in by_account.values() if len(txs) >= 30]
    assert len(busy) > 100
    for txs in busy:
        assert len({t.tx.chain for t in txs}) == 1
        countries = [t.tx.ip_country for t in txs]
        assert countries.count(max(set(countries), key=countries.count)) / len(countries) > 0.9
    new_device = sum(bool(t.tx.is_new_device) for t in stream.txs if not t.is_fraud) / len(stream.txs)
    assert 0.001 < new_device < 0.02  # legitimate customers change phones too
