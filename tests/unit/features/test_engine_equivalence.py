"""The sped-up feature engine gives what the engine before it gave, and leaves the same state.

The oracle is the engine's per-transaction code as it was (:mod:`.reference_engine`). Streams:
the simulator's (labels arriving as the scorer learns them), and random ones made to reach the
corners: a few busy wallets (event lists at their cap), self-transfers, equal amounts, amounts
just under the reporting threshold, replayed transaction ids, missing optional fields, and times
out of order (late events, whose expiry the fast path must not get wrong).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from fraudcore.features import FeatureEngine, MemoryStore
from fraudcore.schemas import Channel, Label, Transaction
from fraudcore.settings import SimulatorSettings
from simulator.economy import Economy, SimulatedTransaction
from simulator.output import take
from tests.helpers import feed_like_the_scorer
from tests.unit.features.reference_engine import ReferenceEngine, as_state

T0 = datetime(2026, 4, 1, tzinfo=UTC)


def assert_same(events: list[Transaction | Label], batch: int) -> None:
    new_store, old_store = MemoryStore(), MemoryStore()
    new = feed_like_the_scorer(FeatureEngine(new_store), events, batch)
    old = feed_like_the_scorer(ReferenceEngine(old_store), events, batch)
    assert len(new) == len(old)
    for a, b in zip(new, old, strict=True):
        assert a.tx_id == b.tx_id
        assert str(a.values) == str(b.values)  # str: NaN == NaN, and 1 != 1.0 would show
        assert str(a.step) == str(b.step)
        assert a.sequence == b.sequence
    assert new_store.states.keys() == old_store.states.keys()
    for address, state in new_store.states.items():
        assert state.to_bytes() == as_state(old_store.states[address]).to_bytes(), address


def test_the_simulator_stream_gives_the_same_features_and_state() -> None:
    economy = Economy(SimulatorSettings(accounts=150, fraud_rate=0.05, label_delay_hours=1), seed=3, start=T0)
    events: list[Transaction | Label] = [
        e.tx if isinstance(e, SimulatedTransaction) else e for e in take(economy, 6000)
    ]
    assert sum(isinstance(e, Label) for e in events) > 20
    assert_same(events, batch=250)


def random_stream(seed: int, n: int = 3000) -> list[Transaction | Label]:
    rng = random.Random(seed)
    wallets = [f"0x{rng.getrandbits(160):040x}" for _ in range(6)]
    # look-alikes of the first wallet: same first and last four characters
    wallets += [wallets[0][:6] + f"{rng.getrandbits(128):032x}" + wallets[0][-4:] for _ in range(2)]
    events: list[Transaction | Label] = []
    clock = 0.0
    ids: list[str] = []
    for i in range(n):
        clock += rng.expovariate(1 / 300.0)  # about 300 a day: lists reach their cap of 200
        late = rng.random() < 0.05
        at = clock - rng.uniform(0, 2 * 86400) if late else clock  # some arrive up to two days late
        if rng.random() < 0.01:
            clock += 3 * 86400  # a gap: everything expires, near-threshold times too
        replay = ids and rng.random() < 0.02
        tx_id = rng.choice(ids[-80:]) if replay else f"tx-{seed}-{i}"
        ids.append(tx_id)
        sender = rng.choice(wallets[:4])
        receiver = sender if rng.random() < 0.03 else rng.choice(wallets)
        usd = rng.choice([100.0, 250.0, 9_500.0, 9_999.99, round(rng.lognormvariate(5, 2), 2)])
        events.append(
            Transaction(
                tx_id=tx_id,
                event_time=T0 + timedelta(seconds=at),
                sender_account_id=f"acc-{sender[-3:]}",
                sender_address=sender,
                receiver_address=receiver,
                amount=usd / 3000,
                amount_usd=usd,
                device_id=rng.choice([None, "d1", "d2", f"d{i % 11}"]),
                ip_country=rng.choice([None, "DE", "FR", "US"]),
                channel=rng.choice([None, *Channel]),
            )
        )
        if rng.random() < 0.02:
            labelled = rng.choice(events)
            if isinstance(labelled, Transaction):
                events.append(
                    Label(
                        tx_id=labelled.tx_id,
                        is_fraud=True,
                        labelled_at=T0 + timedelta(seconds=clock),
                    )
                )
    return events


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_random_streams_give_the_same_features_and_state(seed: int) -> None:
    assert_same(random_stream(seed), batch=[1, 7, 64, 500][seed - 1])
