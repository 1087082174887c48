"""The Dash application, built by :func:`create_app` from a :class:`Settings` (no import-time state).

One ``dcc.Interval`` drives one callback: it reads Redis through :class:`fraudcore.live.LiveViews`
(the one place that knows the key layout) and redraws every card, figure and table. When Redis
does not answer, the page says so, keeps the last figures greyed out, and recovers by itself.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from dash import Dash, Input, Output, State, dcc, html, no_update
from dash.dash_table.DataTable import DataTable
from flask import Response, jsonify
from redis import Redis
from redis.exceptions import RedisError

from dash_app import views
from fraudcore.clients.redis import make_redis
from fraudcore.clients.retry import redact
from fraudcore.live import LiveViews
from fraudcore.logging import get_logger
from fraudcore.settings import Settings

log = get_logger("dash_app")

RATE_WINDOW_S = 15.0  # the live rate: stored transactions over the last this many seconds
REDIS_TIMEOUT_S = 2.0  # a refresh gives up on Redis after this, so the page can say it is down


def redis_for_dashboard(settings: Settings) -> Redis:
    quick = settings.redis.model_copy(update={"timeout_s": min(settings.redis.timeout_s, REDIS_TIMEOUT_S)})
    return make_redis(settings.model_copy(update={"redis": quick}))


def read(live: LiveViews, settings: Settings, samples: list[tuple[float, float]]) -> views.Reading:
    """One refresh: everything the page shows, from Redis (raises RedisError when it is down)."""
    started = time.perf_counter()
    live.redis.ping()
    redis_ms = (time.perf_counter() - started) * 1000
    snapshot = live.snapshot(settings.dash.window_minutes)
    now = live.clock()
    total = snapshot.totals.get("n", 0.0)
    kept = [(t, n) for t, n in samples if now - t <= RATE_WINDOW_S and n <= total]
    return views.Reading(
        now=now,
        snapshot=snapshot,
        pipeline=live.pipeline(),
        alerts=live.recent(settings.dash.alerts, alerts_only=True),
        wallets=live.risky_wallets(8, 24),
        redis_ms=redis_ms,
        rate_samples=[*kept, (now, total)],
    )


def graph(graph_id: str, title: str) -> dcc.Graph:
    """A figure that shows its frame and title until the first reading fills it."""
    return dcc.Graph(id=graph_id, figure=views.empty_figure(title), config={"displayModeBar": False})


def alerts_table() -> DataTable:
    cell = {
        "backgroundColor": views.PANEL,
        "color": views.INK,
        "border": "none",
        "borderBottom": f"1px solid {views.GRID}",
        "fontFamily": "inherit",
        "fontSize": "13px",
        "padding": "6px 10px",
        "textAlign": "left",
        "whiteSpace": "normal",
        "height": "auto",
    }
    # Dash's TypedDicts for conditional styles declare only "if"; any CSS property is allowed
    by_column: list[Any] = [
        *({"if": {"column_id": c}, "fontFamily": "ui-monospace, monospace"} for c in ("from", "to", "time")),
        *({"if": {"column_id": c}, "whiteSpace": "nowrap"} for c, _ in views.ALERT_COLUMNS if c != "reasons"),
    ]
    by_value: list[Any] = [
        {
            "if": {"column_id": "score", "filter_query": "{score} >= 0.9"},
            "color": views.RED,
            "fontWeight": "700",
        },
        {"if": {"column_id": "reasons"}, "color": views.MUTED},
    ]
    return DataTable(
        id="alerts",
        columns=[
            {"id": key, "name": name, "type": "numeric", "format": {"specifier": ".3f"}}
            if key == "score"
            else {"id": key, "name": name}
            for key, name in views.ALERT_COLUMNS
        ],
        data=[],
        style_as_list_view=True,
        style_table={"overflowX": "auto"},
        style_header={
            "backgroundColor": views.PANEL,
            "color": views.MUTED,
            "fontWeight": "600",
            "borderBottom": f"1px solid {views.GRID}",
        },
        style_cell=cell,
        style_cell_conditional=by_column,
        style_data_conditional=by_value,
    )


def layout(settings: Settings) -> html.Div:
    return html.Div(
        [
            html.Header(
                [
                    html.Div(
                        [
                            html.H1("Fraud operations monitor"),
                            html.Span("live from Redis · crypto transactions", className="subtitle"),
                        ]
                    ),
                    html.Div(
                        [html.Span(id="status", className="status idle", children="connecting…")],
                        className="header-right",
                    ),
                ]
            ),
            html.Div(id="banner", className="banner hidden"),
            html.Div(
                [
                    html.Div(views.placeholder_kpis(), id="kpis", className="kpis dim"),
                    html.Div(
                        [
                            html.Div(graph("throughput", "Throughput"), className="panel wide dim"),
                            html.Div(graph("fraud-rate", "Alert rate"), className="panel dim"),
                        ],
                        className="row",
                    ),
                    html.Div(
                        [
                            html.Div(graph("histogram", "Score distribution"), className="panel dim"),
                            html.Div(
                                [html.H2("Pipeline health"), html.Div(id="health")],
                                className="panel padded",
                            ),
                            html.Div(
                                [html.H2("Wallets in the most alerts, 24 h"), html.Div(id="wallets")],
                                className="panel padded dim",
                            ),
                        ],
                        className="row three",
                    ),
                    html.Div(
                        [
                            html.H2(f"Latest alerts (newest first, up to {settings.dash.alerts})"),
                            alerts_table(),
                        ],
                        className="panel padded dim",
                    ),
                ],
                id="content",
                className="content",
            ),
            html.Footer(
                f"Refreshes every {settings.dash.refresh_ms / 1000:g} s. Reads Redis only "
                f"({redact(str(settings.redis.url))}), through fraudcore.live; minutes are wall-clock "
                "minutes of scoring (UTC)."
            ),
            dcc.Interval(id="tick", interval=settings.dash.refresh_ms),
            dcc.Store(id="samples", data=[]),
        ],
        className="page",
    )


def create_app(settings: Settings, live: LiveViews | None = None) -> Dash:
    """The monitor; ``live`` defaults to the views on the configured Redis."""
    live = live or LiveViews(redis_for_dashboard(settings), settings.live)
    redis_url = redact(str(settings.redis.url))
    target = settings.models.target_alert_rate
    app = Dash(
        __name__,
        title="Fraud operations monitor",
        assets_folder=str(Path(__file__).with_name("assets")),
        update_title="",  # no "Updating..." flicker in the tab every refresh
    )
    app.layout = layout(settings)

    @app.server.route("/health")
    def health() -> Response:
        """Liveness, with whether Redis answers (the page itself says what to do when it does not)."""
        try:
            live.redis.ping()
            redis = "ok"
        except (RedisError, OSError) as exc:
            redis = f"not answering: {exc}"
        return jsonify(status="ok", redis=redis)

    @app.callback(
        Output("status", "children"),
        Output("status", "className"),
        Output("banner", "children"),
        Output("banner", "className"),
        Output("content", "className"),
        Output("kpis", "children"),
        Output("throughput", "figure"),
        Output("fraud-rate", "figure"),
        Output("histogram", "figure"),
        Output("health", "children"),
        Output("wallets", "children"),
        Output("alerts", "data"),
        Output("samples", "data"),
        Input("tick", "n_intervals"),
        State("samples", "data"),
    )
    def refresh(_: int | None, samples: list[list[float]] | None) -> tuple[Any, ...]:
        try:
            r = read(live, settings, [(t, n) for t, n in samples or []])
        except (RedisError, OSError) as exc:
            log.warning("Redis is not answering", redis=redis_url, error=str(exc))
            down = [
                html.Strong(f"Redis at {redis_url} is not answering; start it with make up. "),
                html.Span(f"This page retries every {settings.dash.refresh_ms / 1000:g} s. ({exc})"),
            ]
            health = [views.health_row("Redis", "not answering", "bad", f"{redis_url}: {exc}")]
            stale: tuple[Any, ...] = (no_update,) * 4  # the last figures stay, greyed out
            return (
                "Redis down",
                "status bad",
                down,
                "banner bad",
                "content stale",
                *stale,
                health,
                [],
                [],
                [],
            )
        updated = f"live · {views.clock(r.now)} UTC"
        banner: Any
        if r.empty:
            banner = [
                html.Strong("Redis answers, but no scored transaction has been stored yet. "),
                html.Span(
                    "The storage consumer writes these views: is the pipeline running? "
                    "(make up starts it; make status shows each process.)"
                ),
            ]
            state, banner_class = ("waiting for data", "status warn"), "banner warn"
        else:
            stalled = r.pipeline.freshness_s is not None and r.pipeline.freshness_s > views.FRESHNESS_S[1]
            banner = (
                f"No transaction stored for {views.seconds(r.pipeline.freshness_s or 0)}: "
                "is the simulator or a consumer stopped? (make status, make logs)"
                if stalled
                else ""
            )
            state = (updated, "status warn" if stalled else "status ok")
            banner_class = "banner warn" if stalled else "banner hidden"
        return (
            *state,
            banner,
            banner_class,
            "content",
            views.kpis(r, target),
            views.throughput_figure(r),
            views.fraud_rate_figure(r, target),
            views.histogram_figure(r),
            views.health_panel(r, redis_url),
            views.wallets_panel(r),
            views.alert_rows(r.alerts),
            [list(s) for s in r.rate_samples],
        )

    return app
