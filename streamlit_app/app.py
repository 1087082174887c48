"""The analyst app: live KPIs, breakdowns, the alert queue with labelling, wallet drill-down, model quality.

Run by ``python -m streamlit_app`` (``streamlit run`` on this file). Everything comes from the
REST API; the live parts are fragments that refresh every ``STREAMLIT__REFRESH_S`` seconds on
their own, so the filters in the sidebar and the wallet being looked at are never lost.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from fraudcore.settings import Settings, get_settings
from streamlit_app.client import ApiClient, ApiDown

RED, GREEN, BLUE, GREY = "#ef4444", "#22c55e", "#3b82f6", "#94a3b8"
CHART = {"displayModeBar": False}


@st.cache_resource
def settings() -> Settings:
    return get_settings()


@st.cache_resource
def api() -> ApiClient:
    s = settings()
    return ApiClient(s.streamlit.api_url or s.api.url, s.api.key.get_secret_value())


def call(path: str, **params: Any) -> Any:
    """GET from the API; on failure show what to do and stop this part of the page (it retries)."""
    try:
        return api().get(path, **params)
    except ApiDown as exc:
        st.error(str(exc), icon="🔌")
        st.stop()


def money(value: float) -> str:
    if value >= 1e6:
        return f"${value / 1e6:,.2f}M"
    return f"${value:,.0f}"


def layout(fig: go.Figure, height: int = 300) -> go.Figure:
    fig.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        legend={"orientation": "h", "y": 1.12},
        template="plotly_dark",
    )
    return fig


# --- page -------------------------------------------------------------------------------

st.set_page_config(page_title="Fraud analysis", page_icon="🛡️", layout="wide")
REFRESH = settings().streamlit.refresh_s

with st.sidebar:
    st.title("Fraud analysis")
    st.caption(f"API: {api().base_url}")
    window = st.selectbox(
        "Window", [15, 60, 180, 360], index=1, key="window", format_func=lambda m: f"{m} min"
    )
    st.slider("Alert queue: minimum score", 0.0, 1.0, 0.0, 0.05, key="min_score")
    st.text_input("Alert queue: asset", key="asset", placeholder="any, e.g. ETH")
    st.caption(f"Live parts refresh every {REFRESH:g} s; your filters stay.")

overview, alerts_tab, wallet_tab, model_tab = st.tabs(["Overview", "Alert queue", "Wallet", "Model"])


@st.fragment(run_every=REFRESH)
def live_overview() -> None:
    stats = call("/stats/live", minutes=st.session_state.get("window", 60), wallets=10)
    k1, k2, k3, k4, k5 = st.columns(5)
    k1.metric(
        "Throughput", f"{stats['per_second']:.1f} tx/s", help="transactions stored in the last full minute"
    )
    k2.metric("Transactions", f"{stats['transactions']:,}", help="scored in the window")
    k3.metric("Fraud rate", f"{stats['fraud_rate']:.2%}", help="flagged / scored, in the window")
    k4.metric("Alerts", f"{stats['fraud']:,}")
    k5.metric("Amount at risk", money(stats["fraud_usd"]), help="USD value of flagged transactions")
    series = pd.DataFrame(stats["series"])
    series["time"] = pd.to_datetime(series["at"], unit="s", utc=True)
    fig = go.Figure()
    fig.add_bar(x=series["time"], y=series["n"], name="transactions / min", marker_color=BLUE)
    fig.add_scatter(
        x=series["time"], y=series["fraud"], name="alerts / min", yaxis="y2", line={"color": RED, "width": 3}
    )
    fig.update_layout(
        yaxis={"rangemode": "tozero"},
        yaxis2={"overlaying": "y", "side": "right", "showgrid": False, "rangemode": "tozero"},
        title="Transactions and alerts per minute",
    )
    left, right = st.columns([3, 2])
    left.plotly_chart(layout(fig), use_container_width=True, config=CHART, key="series")
    hist = go.Figure(go.Bar(x=[i / 20 for i in range(20)], y=stats["histogram"], marker_color=GREY))
    hist.update_layout(title="Score distribution", yaxis_type="log", xaxis_title="score")
    right.plotly_chart(layout(hist), use_container_width=True, config=CHART, key="histogram")
    columns = st.columns(3)
    for column, by in zip(columns, ("typology", "asset", "chain"), strict=True):
        rows = call("/stats/breakdown", by=by, hours=24) or []
        frame = pd.DataFrame(rows)
        if frame.empty:
            column.info(f"No {by} data yet.")
            continue
        value = "confirmed_fraud" if by == "typology" else "alerts"
        if by == "typology":
            frame = frame[frame["key"] != "not confirmed"]
        bar = go.Figure(go.Bar(x=frame[value], y=frame["key"], orientation="h", marker_color=RED))
        title = "Confirmed fraud by typology (24 h)" if by == "typology" else f"Alerts by {by} (24 h)"
        bar.update_layout(title=title, yaxis={"autorange": "reversed"})
        column.plotly_chart(layout(bar, 280), use_container_width=True, config=CHART, key=f"by-{by}")


@st.fragment(run_every=REFRESH)
def alert_queue() -> None:
    page = call(
        "/alerts",
        limit=100,
        min_score=st.session_state.get("min_score") or None,
        asset=st.session_state.get("asset", "").strip().upper() or None,
    )
    items = page["items"] if page else []
    st.caption(f"{len(items)} latest alerts, newest first (refreshes every {REFRESH:g} s)")
    if not items:
        st.info("No alerts yet for these filters.")
        return
    rows = [
        {
            "scored": datetime.fromisoformat(a["scored_at"]).strftime("%H:%M:%S"),
            "score": round(a["score"], 3),
            "USD": round(a["amount_usd"], 2),
            "asset": a.get("asset"),
            "sender": a["sender_address"],
            "receiver": a["receiver_address"],
            "reasons": " · ".join(a["reasons"]),
            "label": ", ".join(
                f"{x['source']}: {'fraud' if x['is_fraud'] else 'legit'}" for x in a.get("labels", [])
            ),
            "tx_id": a["tx_id"],
        }
        for a in items
    ]
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        use_container_width=True,
        column_config={"score": st.column_config.ProgressColumn("score", min_value=0.0, max_value=1.0)},
    )
    st.session_state["alert_ids"] = [a["tx_id"] for a in items]


def label_form() -> None:
    st.subheader("Label an alert")
    ids = st.session_state.get("alert_ids", [])
    with st.form("label", clear_on_submit=True):
        tx_id = st.selectbox("Transaction", ids, index=None, placeholder="choose from the queue above")
        verdict = st.radio("Verdict", ["fraud", "not fraud"], horizontal=True)
        note = st.text_input("Note", max_chars=2000)
        analyst = st.text_input("Analyst", max_chars=64)
        if st.form_submit_button("Submit label") and tx_id:
            try:
                api().post(
                    "/labels",
                    {
                        "tx_id": tx_id,
                        "is_fraud": verdict == "fraud",
                        "note": note or None,
                        "analyst": analyst.replace(" ", "_") or None,
                    },
                )
                st.success(
                    f"Label for {tx_id} sent; it is stored within seconds and used by the next retrain."
                )
            except ApiDown as exc:
                st.error(str(exc))


def counterparty_graph(address: str, counterparties: list[dict[str, Any]]) -> go.Figure:
    """The wallet in the middle, its counterparties around it; red where alerts were raised."""
    n = max(len(counterparties), 1)
    xs, ys, texts, colours, sizes = [0.0], [0.0], [address[:10] + "…"], [BLUE], [28]
    edge_x: list[float | None] = []
    edge_y: list[float | None] = []
    for i, c in enumerate(counterparties):
        angle = 2 * math.pi * i / n
        x, y = math.cos(angle), math.sin(angle)
        xs.append(x)
        ys.append(y)
        arrow = "→" if c["direction"] == "sent_to" else "←"
        texts.append(f"{arrow} {c['address'][:10]}… ({c['transactions']} tx, ${c['usd']:,.0f})")
        colours.append(RED if c["alerts"] else GREEN)
        sizes.append(10 + min(c["transactions"], 20))
        edge_x += [0.0, x, None]
        edge_y += [0.0, y, None]
    fig = go.Figure()
    fig.add_scatter(x=edge_x, y=edge_y, mode="lines", line={"color": GREY, "width": 1}, hoverinfo="skip")
    fig.add_scatter(
        x=xs,
        y=ys,
        mode="markers+text",
        text=texts,
        textposition="top center",
        marker={"color": colours, "size": sizes},
        hoverinfo="text",
    )
    fig.update_layout(
        showlegend=False,
        xaxis={"visible": False, "range": [-1.7, 1.7]},
        yaxis={"visible": False, "range": [-1.25, 1.25]},
        title="Counterparties (red: alerts raised)",
    )
    return layout(fig, 460)


def wallet_view() -> None:
    if "wallet" not in st.session_state:
        top = (call("/stats/live", minutes=60, wallets=1) or {}).get("risky_wallets") or []
        st.session_state["wallet"] = top[0]["address"] if top else ""
    address = st.text_input("Wallet address", key="wallet").strip()
    if not address:
        st.info("Type a wallet address (the riskiest one is filled in once alerts exist).")
        return
    profile = call(f"/wallets/{address}", history=100)
    if profile is None:
        st.warning(f"No stored transaction involves {address}.")
        return
    sent, received = profile["as_sender"], profile["as_receiver"]
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Sent", f"{sent['transactions']:,} tx", money(sent["usd"]), delta_color="off")
    c2.metric("Received", f"{received['transactions']:,} tx", money(received["usd"]), delta_color="off")
    c3.metric("Alerts", f"{sent['alerts'] + received['alerts']:,}")
    c4.metric("Confirmed fraud", f"{profile['confirmed_fraud']:,}")
    left, right = st.columns([1, 1])
    left.plotly_chart(
        counterparty_graph(address, profile["counterparties"]), use_container_width=True, config=CHART
    )
    history = pd.DataFrame(
        [
            {
                "event time": t["event_time"][:19],
                "direction": "out" if t["sender_address"] == address else "in",
                "counterparty": t["receiver_address"]
                if t["sender_address"] == address
                else t["sender_address"],
                "USD": round(t["amount_usd"], 2),
                "score": round(t["score"], 3),
                "flagged": t["predicted_fraud"],
            }
            for t in profile["recent"]
        ]
    )
    right.dataframe(history, hide_index=True, use_container_width=True, height=460)


@st.fragment(run_every=REFRESH * 6)
def model_view() -> None:
    unit = "hour"
    quality = pd.DataFrame(call("/stats/quality", hours=24, unit=unit) or [])
    if len(quality) < 4:  # a young stack: minutes say more than one or two hours
        unit = "minute"
        quality = pd.DataFrame(call("/stats/quality", hours=3, unit=unit) or [])
    if quality.empty:
        st.info("No stored transactions in the last 24 hours yet.")
    else:
        fig = go.Figure()
        fig.add_bar(x=quality["period"], y=quality["alerts"], name="alerts", marker_color=GREY, yaxis="y2")
        for name, colour in (("precision", GREEN), ("recall", BLUE)):
            fig.add_scatter(
                x=quality["period"], y=quality[name], name=name, mode="lines+markers", line={"color": colour}
            )
        fig.update_layout(
            title=f"Model quality per {unit}, from the labels that have arrived (recent ones fill in later)",
            yaxis={"range": [0, 1.05], "tickformat": ".0%"},
            yaxis2={"overlaying": "y", "side": "right", "showgrid": False, "rangemode": "tozero"},
        )
        st.plotly_chart(layout(fig, 320), use_container_width=True, config=CHART)
    versions = call("/models") or []
    st.subheader("Model versions")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "version": v["version"],
                    "scoring now": v["current"],
                    "approved": v["approved"],
                    "created": v["created_at"],
                    "validation AP": (v.get("validation") or {}).get("combined", {}).get("average_precision"),
                    "threshold": v["threshold"],
                    "why": v["approval"],
                }
                for v in versions
            ]
        ),
        hide_index=True,
        use_container_width=True,
    )
    st.subheader("Retraining runs")
    run_rows = [
        {
            "run": r["id"],
            "trigger": r["trigger"],
            "status": r["status"],
            "requested": r["requested_at"][:19],
            "champion": (r.get("champion") or {}).get("version"),
            "candidate": (r.get("candidate") or {}).get("version"),
            "reason": r.get("reason"),
        }
        for r in call("/retrain/runs", limit=20) or []
    ]
    if run_rows:
        st.dataframe(pd.DataFrame(run_rows), hide_index=True, use_container_width=True)
    else:
        st.caption("No retraining run yet.")


with overview:
    live_overview()
with alerts_tab:
    alert_queue()
    label_form()
with wallet_tab:
    wallet_view()
with model_tab:
    model_view()
    if st.button("Retrain now"):
        try:
            run = api().post("/retrain")
            st.success(f"Retraining run {run['id']} requested; the retrainer starts it within seconds.")
        except ApiDown as exc:
            st.error(str(exc))
