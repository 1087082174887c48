"""The WebSocket fan-out: a slow client loses its oldest messages, counted, and slows nobody."""

from __future__ import annotations

from api.broadcast import Broadcaster, Filters
from fraudcore.settings import load_settings


def tx(i: int, score: float = 0.1, asset: str = "BTC") -> dict[str, object]:
    return {"tx_id": f"t{i}", "score": score, "predicted_fraud": score >= 0.5, "asset": asset}


def test_a_slow_client_drops_its_oldest_and_others_get_everything() -> None:
    broadcaster = Broadcaster(load_settings(_env_file=None, api={"ws_queue": 3}))
    slow, fast = broadcaster.subscribe(Filters()), broadcaster.subscribe(Filters())
    for i in range(5):
        broadcaster.publish([tx(i)])
        if i < 4:
            assert [m["tx_id"] for m in fast.take()] == [f"t{i}"]
    assert [m["tx_id"] for m in slow.take()] == ["t2", "t3", "t4"] and slow.dropped == 2
    assert fast.dropped == 0
    broadcaster.unsubscribe(slow)
    assert broadcaster.subscribers == {fast}


def test_filters() -> None:
    f = Filters(fraud_only=True, min_score=0.6, asset="eth")
    assert f.accepts(tx(1, 0.7, "ETH"))
    assert not f.accepts(tx(2, 0.55, "ETH")) and not f.accepts(tx(3, 0.9, "BTC"))
    assert not Filters(fraud_only=True).accepts(tx(4, 0.2))
