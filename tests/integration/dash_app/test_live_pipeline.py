"""LiveViews.pipeline() on real Redis: what the monitor's pipeline-health panel is built from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fraudcore.clients.redis import make_redis
from fraudcore.live import LiveViews
from fraudcore.schemas import DeadLetter
from fraudcore.settings import Settings
from tests.helpers import unique
from tests.integration.ml_consumer.conftest import simulated
from tests.integration.stores import scored

pytestmark = pytest.mark.integration


def test_freshness_delays_model_versions_and_dead_letters(settings: Settings) -> None:
    now = datetime.now(UTC)
    live = LiveViews(
        make_redis(settings),
        settings.live.model_copy(update={"prefix": unique("pipe") + ":"}),
        clock=lambda: (now + timedelta(seconds=5)).timestamp(),
    )
    empty = live.pipeline()
    assert (empty.sampled, empty.freshness_s, empty.model_version, empty.delay_quantile(0.5)) == (
        0,
        None,
        None,
        None,
    )

    txs, _ = simulated(30, seed=91)
    batch = []
    for i, tx in enumerate(txs):
        at = now - timedelta(seconds=29 - i)  # the last one scored at `now`
        produced = tx.model_copy(update={"produced_at": at - timedelta(seconds=0.1 * (i + 1))})
        one = scored(produced, 0.1, at)
        batch.append(one.model_copy(update={"model_version": "v0001" if i < 10 else "v0002"}))
    live.record([*batch[:-1], batch[-1].model_copy(update={"produced_at": None})])
    live.record_dead_letters(
        [
            DeadLetter.of(
                service="ml_consumer",
                topic="transactions",
                partition=0,
                offset=7,
                reason="bad",
                original=b"x",
            )
        ]
    )

    p = live.pipeline(sample=25)
    assert p.sampled == 25
    assert p.freshness_s == pytest.approx(5.0, abs=0.01)
    assert p.model_version == "v0002" and p.model_versions == {"v0002": 20, "v0001": 5}
    assert p.threshold == 0.5
    assert len(p.delays_s) == 24  # the newest carries no produced_at
    assert p.delay_quantile(0.0) == pytest.approx(0.6, abs=1e-3) and max(p.delays_s) == pytest.approx(2.9)
    assert p.dead_letters_total == 1
    assert p.last_dead_letter is not None and p.last_dead_letter["reason"] == "bad"
