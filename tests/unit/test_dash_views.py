"""The monitor's cards, figures and panels, built from readings made by hand (no Redis, no browser)."""

from __future__ import annotations

from typing import Any

from dash_app import views
from fraudcore.live import BUCKETS, Minute, Pipeline, Snapshot

NOW = 1_800_000_030.0  # 30 s into a minute


def reading(minutes: list[Minute], pipeline: Pipeline | None = None, **extra: Any) -> views.Reading:
    n = sum(m.n for m in minutes)
    fraud = sum(m.fraud for m in minutes)
    snapshot = Snapshot(
        minutes=minutes,
        totals={"n": n + 1000, "fraud": fraud + 10, "since": NOW - 3600},
        histogram=[sum(m.histogram[i] for m in minutes) for i in range(BUCKETS)],
        transactions=n,
        fraud=fraud,
        fraud_rate=fraud / n if n else 0.0,
        volume_usd=sum(m.usd for m in minutes),
        fraud_usd=sum(m.fraud_usd for m in minutes),
        per_second=minutes[-2].n / 60,
        dead_letters=sum(m.dead for m in minutes),
    )
    pipeline = pipeline or Pipeline(200, NOW - 0.5, 0.5, "v0002", {"v0002": 200}, 0.91, [0.2] * 200, 3, None)
    return views.Reading(NOW, snapshot, pipeline, [], [], 0.4, **extra)


def series(count: int = 60, busy_from: int = 50) -> list[Minute]:
    start = int(NOW // 60) - count + 1
    return [
        Minute(at=(start + i) * 60, n=1200 if i >= busy_from else 0, fraud=12 if i >= busy_from else 0)
        for i in range(count)
    ]


def test_the_series_starts_where_the_data_does_and_the_current_minute_is_a_rate() -> None:
    shown = views.shown_minutes(series())
    assert len(shown) == 10 and shown[0].n == 1200  # idle minutes before the data are left out
    assert len(views.shown_minutes(series(busy_from=58))) == 10  # but at least ten are shown
    fig = views.throughput_figure(reading(series()))
    rates = list(fig.data[0].y)
    assert rates[:-1] == [20.0] * 9  # 1,200 a minute
    assert rates[-1] == 40.0  # the current minute: 1,200 in its first 30 s


def test_cards_show_totals_window_and_the_live_rate_from_the_page_samples() -> None:
    r = reading(series(), rate_samples=[(NOW - 10, 1000.0), (NOW, 1210.0)])
    assert r.live_rate() == 21.0
    text = str(views.kpis(r, target_alert_rate=0.01))
    assert "21.0 tx/s" in text and "13,000" in text and "1.00%" in text


def test_the_histogram_marks_the_threshold_and_reds_the_buckets_above() -> None:
    fig = views.histogram_figure(reading(series()))
    colours = fig.data[0].marker.color
    assert colours[17] == views.BLUE and colours[18] == views.RED  # 0.91 falls in [0.90, 0.95)
    assert fig.layout.shapes[0].x0 == 0.91


def test_health_lights_turn_amber_and_red_as_the_pipeline_stalls() -> None:
    assert views.light(2, views.FRESHNESS_S) == "ok"
    assert views.light(30, views.FRESHNESS_S) == "warn"
    assert views.light(600, views.FRESHNESS_S) == "bad"
    assert views.light(None, views.DELAY_S) == "idle"
    stalled = Pipeline(200, NOW - 600, 600, "v0001", {"v0002": 150, "v0001": 50}, 0.9, [], 0, None)
    text = str(views.health_panel(reading(series(), stalled), "redis://127.0.0.1:6379/0"))
    assert "10 min 0 s ago" in text and "dot bad" in text
    assert "v0002 150, v0001 50" in text  # a model switch shows in the sample


def test_alert_rows_are_readable() -> None:
    tx = {
        "tx_id": "t1",
        "scored_at": "2026-11-29T03:26:13.5Z",
        "score": 0.99231,
        "amount": 12.96,
        "amount_usd": 41461.0,
        "asset": "ETH",
        "chain": "ethereum",
        "tx_type": "transfer",
        "sender_address": "0xa370aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa8351",
        "receiver_address": "short",
        "reasons": ["amount 14x this wallet's usual", "receiver first seen 0 minutes ago"],
    }
    (row,) = views.alert_rows([tx])
    assert row["time"] == "03:26:13" and row["score"] == 0.992 and row["usd"] == "$41.46k"
    assert row["asset"] == "12.96 ETH (ethereum)" and row["from"] == "0xa370…8351" and row["to"] == "short"
    assert row["reasons"] == "amount 14x this wallet's usual; receiver first seen 0 minutes ago"
    (bare,) = views.alert_rows([{**tx, "asset": None, "chain": None, "reasons": []}])
    assert bare["asset"] == "12.96" and bare["reasons"] == "—"
    (big,) = views.alert_rows([{**tx, "amount": 10408.3, "asset": "USDC"}])
    assert big["asset"] == "10,408 USDC (ethereum)"
