"""The API's SQL, parameterised (never formatted with user input), against the storage consumer's tables."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg2.extensions import connection as PgConnection
from psycopg2.extras import RealDictCursor

WITH_LABELS = """
SELECT t.*,
       coalesce(json_agg(json_build_object(
           'source', l.source, 'is_fraud', l.is_fraud, 'typology', l.typology,
           'labelled_at', l.labelled_at, 'note', l.note, 'analyst', l.analyst,
           'received_at', l.received_at)) FILTER (WHERE l.tx_id IS NOT NULL), '[]') AS labels
FROM scored_transactions t LEFT JOIN labels l ON l.tx_id = t.tx_id
"""


@dataclass(frozen=True)
class TxFilter:
    start: datetime | None = None
    end: datetime | None = None
    wallet: str | None = None
    fraud_only: bool = False
    min_score: float | None = None
    asset: str | None = None

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        args: list[Any] = []
        if self.start is not None:
            clauses.append("t.event_time >= %s")
            args.append(self.start)
        if self.end is not None:
            clauses.append("t.event_time < %s")
            args.append(self.end)
        if self.wallet is not None:
            clauses.append("(t.sender_address = %s OR t.receiver_address = %s)")
            args += [self.wallet, self.wallet]
        if self.fraud_only:
            clauses.append("t.predicted_fraud")
        if self.min_score is not None:
            clauses.append("t.score >= %s")
            args.append(self.min_score)
        if self.asset is not None:
            clauses.append("t.asset = %s")
            args.append(self.asset)
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), args


def rows(conn: PgConnection, query: str, args: list[Any] | tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    with conn.cursor(cursor_factory=RealDictCursor) as cur:
        cur.execute(query, args)
        return [dict(r) for r in cur.fetchall()]


def transactions(conn: PgConnection, where: TxFilter, limit: int, offset: int) -> list[dict[str, Any]]:
    sql, args = where.where()
    return rows(
        conn,
        WITH_LABELS + sql + " GROUP BY t.tx_id ORDER BY t.event_time DESC, t.tx_id DESC LIMIT %s OFFSET %s",
        [*args, limit, offset],
    )


def transaction(conn: PgConnection, tx_id: str) -> dict[str, Any] | None:
    found = rows(conn, WITH_LABELS + " WHERE t.tx_id = %s GROUP BY t.tx_id", [tx_id])
    return found[0] if found else None


def exists(conn: PgConnection, tx_id: str) -> bool:
    return bool(rows(conn, "SELECT 1 AS found FROM scored_transactions WHERE tx_id = %s", [tx_id]))


SIDE = """
SELECT count(*) AS transactions, coalesce(sum(amount_usd), 0) AS usd,
       count(*) FILTER (WHERE predicted_fraud) AS alerts, max(score) AS max_score,
       min(event_time) AS first_seen, max(event_time) AS last_seen
FROM scored_transactions WHERE {column} = %s
"""
COUNTERPARTIES = """
SELECT address, direction, count(*) AS transactions, sum(amount_usd) AS usd,
       count(*) FILTER (WHERE predicted_fraud) AS alerts
FROM (
    SELECT receiver_address AS address, 'sent_to' AS direction, amount_usd, predicted_fraud
    FROM scored_transactions WHERE sender_address = %s
    UNION ALL
    SELECT sender_address, 'received_from', amount_usd, predicted_fraud
    FROM scored_transactions WHERE receiver_address = %s
) AS moves
GROUP BY address, direction ORDER BY transactions DESC, usd DESC LIMIT %s
"""
CONFIRMED = """
SELECT count(DISTINCT l.tx_id) AS n FROM labels l JOIN scored_transactions t ON t.tx_id = l.tx_id
WHERE l.is_fraud AND (t.sender_address = %s OR t.receiver_address = %s)
"""
ACCOUNTS = "SELECT DISTINCT sender_account_id AS account FROM scored_transactions WHERE sender_address = %s"


def wallet(conn: PgConnection, address: str, counterparties: int) -> dict[str, Any]:
    return {
        "as_sender": rows(conn, SIDE.format(column="sender_address"), [address])[0],
        "as_receiver": rows(conn, SIDE.format(column="receiver_address"), [address])[0],
        "counterparties": rows(conn, COUNTERPARTIES, [address, address, counterparties]),
        "confirmed_fraud": rows(conn, CONFIRMED, [address, address])[0]["n"],
        "accounts": [r["account"] for r in rows(conn, ACCOUNTS + " LIMIT 50", [address])],
    }


BREAKDOWN = """
SELECT {column} AS key, count(*) AS transactions, count(*) FILTER (WHERE t.predicted_fraud) AS alerts,
       coalesce(sum(t.amount_usd) FILTER (WHERE t.predicted_fraud), 0) AS alert_usd,
       count(l.tx_id) AS confirmed_fraud
FROM scored_transactions t
LEFT JOIN labels l ON l.tx_id = t.tx_id AND l.source = 'ground_truth' AND l.is_fraud
WHERE t.stored_at > now() - make_interval(hours => %s)
GROUP BY 1 ORDER BY alerts DESC, transactions DESC LIMIT 50
"""
BREAKDOWN_COLUMNS = {
    "asset": "coalesce(t.asset, 'unknown')",
    "chain": "coalesce(t.chain, 'unknown')",
    "typology": "coalesce(l.typology, CASE WHEN l.tx_id IS NULL THEN 'not confirmed' ELSE 'unknown' END)",
}


def breakdown(conn: PgConnection, by: str, hours: int) -> list[dict[str, Any]]:
    """Transactions, alerts and confirmed fraud grouped by asset, chain or typology (a fixed column)."""
    return rows(conn, BREAKDOWN.format(column=BREAKDOWN_COLUMNS[by]), [hours])


QUALITY = """
SELECT date_trunc(%s, t.stored_at) AS period,
       count(*) AS transactions,
       count(*) FILTER (WHERE t.predicted_fraud) AS alerts,
       count(*) FILTER (WHERE t.predicted_fraud AND l.is_fraud) AS true_alerts,
       count(*) FILTER (WHERE l.is_fraud) AS labelled_fraud
FROM scored_transactions t
LEFT JOIN LATERAL (
    SELECT coalesce(
        (SELECT is_fraud FROM labels WHERE tx_id = t.tx_id AND source = 'analyst'),
        (SELECT is_fraud FROM labels WHERE tx_id = t.tx_id AND source = 'ground_truth')
    ) AS is_fraud
) l ON true
WHERE t.stored_at > now() - make_interval(hours => %s)
GROUP BY 1 ORDER BY 1
"""


def quality(conn: PgConnection, hours: int, unit: str) -> list[dict[str, Any]]:
    """Per period: alerts, those confirmed fraud by the labels so far, and all labelled fraud."""
    out = rows(conn, QUALITY, [unit, hours])
    for r in out:
        r["precision"] = r["true_alerts"] / r["alerts"] if r["alerts"] else None
        r["recall"] = r["true_alerts"] / r["labelled_fraud"] if r["labelled_fraud"] else None
    return out
