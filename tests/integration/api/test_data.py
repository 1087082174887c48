"""REST: transactions, alerts, wallets, live statistics and model versions, and their validation."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.integration.api.conftest import Served


def test_transactions_newest_first_with_pages(served: Served) -> None:
    first = served.client.get("/transactions", params={"limit": 100}).json()
    times = [t["event_time"] for t in first["items"]]
    assert len(times) == 100 and times == sorted(times, reverse=True)
    assert first["next_offset"] == 100
    newest = max(served.txs, key=lambda t: (t.event_time, t.tx_id))
    assert first["items"][0]["tx_id"] == newest.tx_id
    second = served.client.get("/transactions", params={"limit": 100, "offset": 100}).json()
    assert not {t["tx_id"] for t in first["items"]} & {t["tx_id"] for t in second["items"]}
    last = served.client.get("/transactions", params={"limit": 200, "offset": 1400}).json()
    assert len(last["items"]) == 100 and last["next_offset"] is None


def test_filters(served: Served) -> None:
    c, txs = served.client, served.txs
    fraud = {t.tx_id for t in txs if t.predicted_fraud}
    got = c.get("/transactions", params={"fraud_only": True, "limit": 200}).json()["items"]
    assert {t["tx_id"] for t in got} == fraud
    assert all(t["reasons"] for t in got)
    high = c.get("/transactions", params={"min_score": 0.37, "limit": 200}).json()["items"]
    assert {t["tx_id"] for t in high} == {t.tx_id for t in txs if t.score >= 0.37}
    wallet = txs[10].sender_address
    mine = c.get("/transactions", params={"wallet": wallet, "limit": 200}).json()["items"]
    expected = {t.tx_id for t in txs if wallet in (t.sender_address, t.receiver_address)}
    assert {t["tx_id"] for t in mine} == expected
    asset = txs[0].asset
    assert asset
    assets = c.get("/transactions", params={"asset": asset.lower(), "limit": 200}).json()["items"]
    assert assets and {t["asset"] for t in assets} == {asset}
    times = sorted(t.event_time for t in txs)
    start, end = times[100], times[200]
    window = c.get(
        "/transactions", params={"start": start.isoformat(), "end": end.isoformat(), "limit": 200}
    ).json()["items"]
    assert {t["tx_id"] for t in window} == {t.tx_id for t in txs if start <= t.event_time < end}


def test_one_transaction_with_its_labels_and_alerts(served: Served) -> None:
    label = served.labels[0]
    got = served.client.get(f"/transactions/{label.tx_id}").json()
    assert got["tx_id"] == label.tx_id and got["model_version"] == "v0001"
    assert [(x["source"], x["is_fraud"], x["typology"]) for x in got["labels"]] == [
        ("ground_truth", True, label.typology)
    ]
    missing = served.client.get("/transactions/tx-nope")
    assert missing.status_code == 404 and "tx-nope" in missing.json()["detail"]
    alerts = served.client.get("/alerts", params={"limit": 200}).json()["items"]
    assert alerts and all(a["predicted_fraud"] for a in alerts)
    assert any(a["labels"] for a in alerts)


def test_wallet_profile(served: Served) -> None:
    txs = served.txs
    wallet = max({t.sender_address for t in txs}, key=lambda w: sum(t.sender_address == w for t in txs))
    sent = [t for t in txs if t.sender_address == wallet]
    got = served.client.get(f"/wallets/{wallet}", params={"history": 5}).json()
    assert got["as_sender"]["transactions"] == len(sent)
    assert got["as_sender"]["usd"] == pytest.approx(sum(t.amount_usd for t in sent))
    assert got["accounts"] == sorted({t.sender_account_id for t in sent})
    assert len(got["recent"]) == min(5, got["as_sender"]["transactions"] + got["as_receiver"]["transactions"])
    top = got["counterparties"][0]
    assert top["transactions"] >= got["counterparties"][-1]["transactions"]
    assert served.client.get("/wallets/0xnobody").status_code == 404


def test_live_stats_and_recent_from_redis(served: Served) -> None:
    stats = served.client.get("/stats/live", params={"minutes": 10}).json()
    assert stats["transactions"] == 1500 and stats["fraud"] == sum(t.predicted_fraud for t in served.txs)
    assert len(stats["series"]) == 10 and sum(stats["histogram"]) == 1500
    assert stats["risky_wallets"]
    recent = served.client.get("/stats/recent", params={"limit": 3, "alerts_only": True}).json()
    assert len(recent) == 3 and all(t["predicted_fraud"] for t in recent)


def test_model_versions(served: Served) -> None:
    versions = served.client.get("/models").json()
    assert [v["version"] for v in versions] == ["v0001"]
    assert versions[0]["current"] and versions[0]["approved"]
    assert versions[0]["metrics"]["combined"]["average_precision"] > 0
    assert served.client.get("/models/v0001").json()["threshold"] == versions[0]["threshold"]
    assert served.client.get("/models/v9999").status_code == 404
    assert served.client.get("/models/latest").status_code == 422


@pytest.mark.parametrize(
    ("path", "params", "says"),
    [
        ("/transactions", {"limit": 0}, "limit"),
        ("/transactions", {"limit": 201}, "API__PAGE_MAX"),
        ("/transactions", {"min_score": 1.5}, "min_score"),
        ("/transactions", {"offset": -1}, "offset"),
        ("/transactions", {"start": "2026-11-02T00:00:00Z", "end": "2026-11-01T00:00:00Z"}, "before"),
        ("/transactions", {"start": "2026-11-02T00:00:00"}, "start"),
        ("/transactions", {"start": "yesterday"}, "start"),
        ("/transactions", {"wallet": "a b"}, "wallet"),
        ("/transactions", {"asset": "BTC;DROP"}, "asset"),
        ("/transactions", {"fraud_only": "perhaps"}, "fraud_only"),
        ("/stats/live", {"minutes": 0}, "minutes"),
    ],
)
def test_bad_parameters_get_a_4xx_with_a_message(served: Served, path: str, params: dict, says: str) -> None:
    response = served.client.get(path, params=params)
    assert response.status_code == 422
    assert says in str(response.json()["detail"])


def test_an_id_with_a_control_character_is_refused_not_a_server_error(served: Served) -> None:
    for path in (
        "/transactions/%00",
        "/transactions/tx%0A1",
        "/wallets/0x%00",
    ):  # hypothesis found %00: a 500
        response = served.client.get(path)
        assert response.status_code == 422, path


def test_sql_is_parameterised(served: Served) -> None:
    hostile = "x'OR'1'='1"
    got = served.client.get("/transactions", params={"wallet": hostile})
    assert got.status_code == 200 and got.json()["items"] == []
    assert served.client.get(f"/wallets/{hostile}").status_code == 404
    assert served.client.get("/transactions", params={"limit": 200}).json()["next_offset"] == 200


def test_time_window_is_exclusive_at_the_end(served: Served) -> None:
    t = served.txs[0].event_time
    got = served.client.get(
        "/transactions", params={"start": t.isoformat(), "end": (t + timedelta(microseconds=1)).isoformat()}
    ).json()["items"]
    assert served.txs[0].tx_id in {x["tx_id"] for x in got}


def test_breakdowns_and_model_quality(served: Served) -> None:
    txs, labels = served.txs, served.labels
    by_asset = served.client.get("/stats/breakdown", params={"by": "asset"}).json()
    assert sum(r["transactions"] for r in by_asset) == len(txs)
    assert sum(r["alerts"] for r in by_asset) == sum(t.predicted_fraud for t in txs)
    by_typology = served.client.get("/stats/breakdown", params={"by": "typology"}).json()
    confirmed = {r["key"]: r["confirmed_fraud"] for r in by_typology if r["key"] != "not confirmed"}
    assert sum(confirmed.values()) == len(labels)
    assert served.client.get("/stats/breakdown", params={"by": "sender"}).status_code == 422
    [period] = served.client.get("/stats/quality", params={"unit": "day"}).json()
    assert period["transactions"] == len(txs) and period["labelled_fraud"] == len(labels)
    assert period["precision"] == 1.0  # the test's scores flag exactly the labelled fraud
