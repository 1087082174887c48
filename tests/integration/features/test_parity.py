"""Offline (state in memory) and online (state in Redis) give identical features for the same stream."""

from __future__ import annotations

from datetime import UTC, datetime

from fraudcore.clients.redis import make_redis
from fraudcore.features import FeatureEngine, MemoryStore, RedisStore
from fraudcore.schemas import Label, Transaction
from fraudcore.settings import Settings, SimulatorSettings
from simulator.economy import Economy, SimulatedTransaction
from simulator.output import take
from tests.helpers import feed_like_the_scorer, unique


def test_memory_and_redis_state_give_the_same_features(settings: Settings) -> None:
    economy = Economy(
        SimulatorSettings(accounts=200, fraud_rate=0.04, label_delay_hours=1),
        seed=8,
        start=datetime(2026, 4, 1, tzinfo=UTC),
    )
    events: list[Transaction | Label] = [
        e.tx if isinstance(e, SimulatedTransaction) else e for e in take(economy, 5000)
    ]
    assert sum(isinstance(e, Label) for e in events) > 20
    offline = feed_like_the_scorer(FeatureEngine(MemoryStore()), events, batch=1000)
    redis = make_redis(settings)
    store = RedisStore(redis, prefix=unique("fs") + ":")
    online = feed_like_the_scorer(FeatureEngine(store), events, batch=64)
    assert len(offline) == len(online) == 5000
    for a, b in zip(offline, online, strict=True):
        assert a.tx_id == b.tx_id
        assert str(a.values) == str(b.values)  # str: NaN == NaN
        assert a.sequence == b.sequence
    # and the state really lives in Redis, each key with a TTL so idle wallets expire
    keys = list(redis.scan_iter(match=store.prefix + "*", count=1000))
    assert len(keys) > 200
    assert 0 < redis.ttl(keys[0]) <= store.ttl_s
