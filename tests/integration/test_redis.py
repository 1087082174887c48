"""A round trip through the embedded Redis server: keys with a TTL and pub/sub."""

from __future__ import annotations

import time

from fraudcore.clients.redis import make_redis
from fraudcore.settings import Settings
from tests.helpers import unique


def test_keys_and_sorted_sets_round_trip(settings: Settings) -> None:
    r = make_redis(settings)
    key = unique("latest")
    r.set(key, b"value", ex=60)
    assert r.get(key) == b"value"
    assert 0 < r.ttl(key) <= 60
    r.zadd(key + ":z", {"wallet-a": 0.9, "wallet-b": 0.2})
    assert r.zrevrange(key + ":z", 0, 0) == [b"wallet-a"]
    r.close()


def test_pub_sub_delivers_to_a_subscriber(settings: Settings) -> None:
    r = make_redis(settings)
    channel = unique("scored")
    pubsub = r.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(channel)
    pubsub.get_message(timeout=1)  # the subscribe confirmation
    r.publish(channel, b"tx-1")
    deadline = time.monotonic() + 5
    message = None
    while message is None and time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.5)
    assert message is not None and message["data"] == b"tx-1"
    pubsub.close()
    r.close()
