"""What the monitor shows, built from one reading of Redis: KPI cards, figures, panels, table rows.

Pure functions of :class:`Reading` (no Redis, no Dash callbacks), so they are tested on their own.

>>> short_address("0x1234567890abcdef1234567890abcdef12345678")
'0x1234…5678'
>>> money(1_234_567.8), money(950.0)
('$1.23M', '$950')
>>> seconds(0.0123), seconds(4.2), seconds(125)
('12 ms', '4.2 s', '2 min 5 s')
>>> amount(10408.3), amount(12.961), amount(0.0055361)
('10,408', '12.96', '0.005536')
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import plotly.graph_objects as go
from dash import html

from fraudcore.live import BUCKETS, Minute, Pipeline, Snapshot

# one palette for the page and its figures (the CSS in assets/ uses the same)
INK = "#e2e8f0"
MUTED = "#94a3b8"
GRID = "#1e293b"
PANEL = "#111827"
BLUE = "#38bdf8"
RED = "#f43f5e"
AMBER = "#f59e0b"
GREEN = "#22c55e"

# thresholds of the pipeline-health lights: (green below, amber below, red above)
FRESHNESS_S = (10.0, 60.0)
DELAY_S = (5.0, 60.0)


@dataclass
class Reading:
    """Everything one refresh reads from Redis, at ``now`` (Unix seconds)."""

    now: float
    snapshot: Snapshot
    pipeline: Pipeline
    alerts: list[dict[str, Any]]
    wallets: list[tuple[str, int]]
    redis_ms: float
    rate_samples: list[tuple[float, float]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.snapshot.totals.get("n")

    def live_rate(self) -> float | None:
        """Transactions stored per second over the recent samples of the total (the page keeps them)."""
        if len(self.rate_samples) < 2:
            return None
        (t0, n0), (t1, n1) = self.rate_samples[0], self.rate_samples[-1]
        return (n1 - n0) / (t1 - t0) if t1 - t0 >= 2 else None


# --- formatting --------------------------------------------------------------------


def short_address(address: str) -> str:
    return address if len(address) <= 14 else f"{address[:6]}…{address[-4:]}"


def money(usd: float) -> str:
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(usd) >= limit * 10 or (suffix == "M" and abs(usd) >= limit):
            return (
                f"${usd / limit:,.2f}{suffix}" if abs(usd) < limit * 100 else f"${usd / limit:,.0f}{suffix}"
            )
    return f"${usd:,.0f}"


def amount(value: float) -> str:
    """An amount of a coin: whole units from 1,000 up, four significant digits below."""
    return f"{value:,.0f}" if value >= 1000 else f"{value:.4g}"


def seconds(value: float) -> str:
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 60:
        return f"{value:.1f} s"
    return f"{int(value // 60)} min {int(value % 60)} s"


def clock(unix_s: float) -> str:
    return datetime.fromtimestamp(unix_s, UTC).strftime("%H:%M:%S")


def light(value: float | None, limits: tuple[float, float]) -> str:
    """``ok``, ``warn`` or ``bad`` for a value that is better small; ``idle`` when unknown."""
    if value is None:
        return "idle"
    return "ok" if value < limits[0] else "warn" if value < limits[1] else "bad"


# --- KPI cards ---------------------------------------------------------------------


def kpi(title: str, value: str, note: str, tone: str = "", test_id: str = "") -> html.Div:
    return html.Div(
        [
            html.Div(title, className="kpi-title"),
            html.Div(value, className="kpi-value", id=f"kpi-{test_id}" if test_id else ""),
            html.Div(note, className="kpi-note"),
        ],
        className=f"kpi {tone}".strip(),
    )


def kpis(r: Reading, target_alert_rate: float) -> list[html.Div]:
    s, totals = r.snapshot, r.snapshot.totals
    total_n, total_fraud = int(totals.get("n", 0)), int(totals.get("fraud", 0))
    window = f"last {len(s.minutes)} min"
    rate = r.live_rate()
    rate_note = f"last full minute {s.per_second:,.1f} tx/s"
    alert_tone = "alarm" if s.fraud_rate > 3 * target_alert_rate and s.transactions >= 200 else ""
    return [
        kpi(
            "Throughput",
            f"{rate:,.1f} tx/s" if rate is not None else f"{s.per_second:,.1f} tx/s",
            rate_note if rate is not None else "measuring…",
            test_id="rate",
        ),
        kpi("Transactions scored", f"{total_n:,}", f"{s.transactions:,} in the {window}", test_id="total"),
        kpi("Alerts", f"{total_fraud:,}", f"{s.fraud:,} in the {window}", "alert", test_id="alerts"),
        kpi(
            "Alert rate",
            f"{s.fraud_rate:.2%}",
            f"{window} · target {target_alert_rate:.1%} · all {total_fraud / max(total_n, 1):.2%}",
            alert_tone,
            test_id="fraud-rate",
        ),
        kpi("Volume", money(s.volume_usd), f"{money(s.fraud_usd)} flagged, {window}", test_id="volume"),
        kpi(
            "Dead letters",
            f"{r.pipeline.dead_letters_total:,}",
            f"{s.dead_letters:,} in the {window}",
            "alarm" if s.dead_letters else "",
            test_id="dead",
        ),
    ]


def placeholder_kpis() -> list[html.Div]:
    """The cards before the first reading."""
    titles = ("Throughput", "Transactions scored", "Alerts", "Alert rate", "Volume", "Dead letters")
    return [kpi(title, "—", "no reading yet") for title in titles]


# --- figures -----------------------------------------------------------------------


def _layout(fig: go.Figure, title: str, time_axis: bool = True, **extra: Any) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0.01, "font": {"size": 14, "color": INK}},
        paper_bgcolor=PANEL,
        plot_bgcolor=PANEL,
        font={"color": MUTED, "size": 12},
        margin={"l": 50, "r": 20, "t": 40, "b": 36},
        legend={"orientation": "h", "y": 1.12, "x": 1, "xanchor": "right", "bgcolor": "rgba(0,0,0,0)"},
        uirevision="keep",  # zoom and hidden traces survive the refreshes
        **extra,
    )
    fig.update_xaxes(gridcolor=GRID, zeroline=False, tickformat="%H:%M" if time_axis else None)
    fig.update_yaxes(gridcolor=GRID, zeroline=False)
    return fig


def empty_figure(title: str) -> go.Figure:
    return _layout(go.Figure(), title, time_axis=False, xaxis={"visible": False}, yaxis={"visible": False})


def shown_minutes(minutes: list[Minute], at_least: int = 10) -> list[Minute]:
    """The series from its first minute with data (at least ``at_least`` minutes, the current one last)."""
    first = next((i for i, m in enumerate(minutes) if m.n or m.dead), len(minutes))
    return minutes[min(first, max(0, len(minutes) - at_least)) :]


def _per_second(minutes: list[Minute], now: float) -> list[tuple[datetime, float, float]]:
    """(minute, tx/s, alerts/min); the current minute's rate over its elapsed seconds (once 10 s old)."""
    out = []
    for m in minutes:
        elapsed = min(60.0, now - m.at)
        if elapsed < 10:
            continue
        out.append((datetime.fromtimestamp(m.at, UTC), m.n / elapsed, m.fraud * 60 / elapsed))
    return out


def throughput_figure(r: Reading) -> go.Figure:
    rows = _per_second(shown_minutes(r.snapshot.minutes), r.now)
    x = [t for t, _, _ in rows]
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=x,
            y=[v for _, v, _ in rows],
            name="transactions/s",
            mode="lines+markers",
            line={"color": BLUE, "width": 2},
            fill="tozeroy",
            fillcolor="rgba(56,189,248,0.12)",
        )
    )
    fig.add_trace(
        go.Bar(
            x=x,
            y=[a for _, _, a in rows],
            name="alerts/min",
            marker={"color": RED},
            opacity=0.75,
            yaxis="y2",
        )
    )
    return _layout(
        fig,
        "Throughput (per minute of scoring, UTC)",
        yaxis={"title": "tx/s", "rangemode": "tozero"},
        yaxis2={"title": "alerts/min", "overlaying": "y", "side": "right", "rangemode": "tozero"},
        bargap=0.5,
    )


def fraud_rate_figure(r: Reading, target_alert_rate: float) -> go.Figure:
    minutes = [m for m in shown_minutes(r.snapshot.minutes) if m.at <= r.now - 10]
    x = [datetime.fromtimestamp(m.at, UTC) for m in minutes]
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=x,
            y=[100 * m.fraud / m.n if m.n else None for m in minutes],
            name="alert rate %",
            mode="lines+markers",
            line={"color": RED, "width": 2},
            connectgaps=False,
        )
    )
    fig.add_hline(
        y=100 * target_alert_rate,
        line={"color": AMBER, "dash": "dash", "width": 1},
        annotation={"text": f"target {target_alert_rate:.1%}", "font": {"color": AMBER}},
        annotation_position="top left",
    )
    return _layout(
        fig, "Alert rate (% of transactions flagged)", yaxis={"ticksuffix": "%", "rangemode": "tozero"}
    )


def histogram_figure(r: Reading) -> go.Figure:
    width = 1 / BUCKETS
    threshold = r.pipeline.threshold
    colours = [RED if threshold is not None and (i + 1) * width > threshold else BLUE for i in range(BUCKETS)]
    fig = go.Figure(
        go.Bar(
            x=[(i + 0.5) * width for i in range(BUCKETS)],
            y=r.snapshot.histogram,
            width=width * 0.92,
            marker={"color": colours},
            hovertemplate="score %{x:.3f} ± 0.025: %{y:,} transactions<extra></extra>",
        )
    )
    if threshold is not None:
        fig.add_vline(
            x=threshold,
            line={"color": AMBER, "dash": "dash", "width": 1},
            annotation={"text": f"threshold {threshold:.3f}", "font": {"color": AMBER}},
            annotation_position="top left" if threshold > 0.5 else "top right",
        )
    return _layout(
        fig,
        f"Score distribution, last {len(r.snapshot.minutes)} min (log scale)",
        time_axis=False,
        xaxis={"range": [0, 1], "title": "score"},
        yaxis={"type": "log", "dtick": 1, "title": "transactions"},
        showlegend=False,
    )


# --- panels ------------------------------------------------------------------------


def health_row(name: str, value: str, state: str, detail: str = "") -> html.Div:
    return html.Div(
        [
            html.Span(className=f"dot {state}"),
            html.Span(name, className="health-name"),
            html.Span(value, className="health-value"),
            html.Div(detail, className="health-detail") if detail else None,
        ],
        className="health-row",
    )


def health_panel(r: Reading, redis_url: str) -> list[html.Div]:
    p = r.pipeline
    p50, p95 = p.delay_quantile(0.5), p.delay_quantile(0.95)
    versions = p.model_versions
    mixed = f"; of the last {p.sampled}: " + ", ".join(f"{v} {n}" for v, n in versions.items())
    dead = p.last_dead_letter
    since = r.snapshot.totals.get("since")
    return [
        health_row("Redis", f"ok · {r.redis_ms:.1f} ms", "ok", redis_url),
        health_row(
            "Freshness",
            f"newest scored {seconds(p.freshness_s)} ago" if p.freshness_s is not None else "no data",
            light(p.freshness_s, FRESHNESS_S),
            "simulator → scoring → storage → Redis; grows when any of them stalls",
        ),
        health_row(
            "Scoring lag",
            f"p50 {seconds(p50)} · p95 {seconds(p95)}" if p50 is not None and p95 is not None else "no data",
            light(p95, DELAY_S),
            f"produced → scored, last {len(p.delays_s)} transactions (time waited in Kafka and scoring)",
        ),
        health_row(
            "Model",
            f"{p.model_version} · threshold {p.threshold:.3f}"
            if p.model_version and p.threshold
            else "none yet",
            "ok" if p.model_version else "idle",
            mixed if len(versions) > 1 else f"all of the last {p.sampled} scored by it" if p.sampled else "",
        ),
        health_row(
            "Dead letters",
            f"{p.dead_letters_total:,} in all",
            "warn" if dead else "ok",
            f"latest: {dead.get('service')} on {dead.get('source_topic')}: {str(dead.get('reason'))[:120]}"
            if dead
            else "none: every message decoded and validated",
        ),
        health_row(
            "Counting since",
            clock(since) + " UTC" if since else "—",
            "ok" if since else "idle",
            "the first transaction these live views counted",
        ),
    ]


def wallets_panel(r: Reading) -> list[html.Div]:
    if not r.wallets:
        return [html.Div("no alerts in the last 24 h", className="muted")]
    top = r.wallets[0][1]
    return [
        html.Div(
            [
                html.Span(short_address(wallet), className="mono", title=wallet),
                html.Div(
                    html.Div(className="bar-fill", style={"width": f"{100 * n / top:.0f}%"}), className="bar"
                ),
                html.Span(f"{n:,}", className="wallet-count"),
            ],
            className="wallet-row",
        )
        for wallet, n in r.wallets
    ]


def alert_rows(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for tx in alerts:
        scored = datetime.fromisoformat(tx["scored_at"])
        rows.append(
            {
                "time": scored.strftime("%H:%M:%S"),
                "score": round(float(tx["score"]), 3),
                "usd": money(float(tx["amount_usd"])),
                "asset": " ".join(
                    [
                        amount(tx["amount"]),
                        tx.get("asset") or "",
                        f"({tx['chain']})" if tx.get("chain") else "",
                    ]
                ).strip(),
                "type": tx.get("tx_type", ""),
                "from": short_address(tx["sender_address"]),
                "to": short_address(tx["receiver_address"]),
                "reasons": "; ".join(tx.get("reasons") or []) or "—",
                "tx_id": tx["tx_id"],
            }
        )
    return rows


ALERT_COLUMNS = [
    ("time", "Scored (UTC)"),
    ("score", "Score"),
    ("usd", "USD"),
    ("asset", "Amount"),
    ("type", "Type"),
    ("from", "From"),
    ("to", "To"),
    ("reasons", "Why it was flagged"),
]


def now() -> float:
    return time.time()
