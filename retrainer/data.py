"""The labelled history a retraining run learns from, pulled from MongoDB.

Transactions are those scored in the last ``RETRAIN__WINDOW_HOURS`` (at most
``RETRAIN__MAX_ROWS``, the newest); their labels are the ones written onto the documents by the
storage consumer (``labels.ground_truth`` and ``labels.analyst``) that had **arrived by the
cut-off** (``received_at``). An analyst's label overrides the ground truth of the same
transaction. A label's arrival on the event clock (what the feature engine compares with event
times) is its ``labelled_at``, never before the transaction itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from pymongo.database import Database

from fraudcore.schemas import Transaction

FIELDS = {name: 1 for name in Transaction.model_fields if name != "tx_id"}


@dataclass
class Labelled:
    transactions: list[Transaction]  # event-time order
    labels: pd.DataFrame  # tx_id, labelled_at (Unix s, event clock): the fraud labels known at the cut-off
    window: dict[str, Any]


def effective_label(labels: dict[str, Any], cutoff: datetime) -> dict[str, Any] | None:
    """The label that counts at ``cutoff``: the analyst's if it had arrived, else the ground truth's."""
    for source in ("analyst", "ground_truth"):
        label = labels.get(source)
        if label and label.get("received_at") is not None and label["received_at"] <= cutoff:
            return dict(label)
    return None


def load_labelled(
    db: Database[dict[str, Any]], cutoff: datetime, window_hours: float, max_rows: int
) -> Labelled:
    since = cutoff - timedelta(hours=window_hours)
    cursor = db["transactions"].find(
        {"scored_at": {"$gte": since, "$lte": cutoff}}, {**FIELDS, "labels": 1, "scored_at": 1}
    )
    docs = sorted(cursor, key=lambda d: d["scored_at"])[-max_rows:]
    transactions: list[Transaction] = []
    fraud: list[tuple[str, float]] = []
    analyst = 0
    for doc in docs:
        labels = doc.pop("labels", None) or {}
        doc.pop("scored_at", None)
        doc["tx_id"] = doc.pop("_id")
        tx = Transaction.model_validate(doc, strict=False)
        transactions.append(tx)
        label = effective_label(labels, cutoff)
        if label is not None:
            analyst += label is not labels.get("ground_truth") and "analyst" in labels
            if label["is_fraud"]:
                arrived = max(label["labelled_at"].timestamp(), tx.event_time.timestamp())
                fraud.append((tx.tx_id, arrived))
    transactions.sort(key=lambda t: t.event_time)
    window = {
        "cutoff": cutoff.isoformat(timespec="seconds"),
        "scored_from": since.isoformat(timespec="seconds"),
        "rows": len(transactions),
        "labelled_fraud": len(fraud),
        "analyst_labels": int(analyst),
        "event_from": transactions[0].event_time.isoformat(timespec="seconds") if transactions else None,
        "event_to": transactions[-1].event_time.isoformat(timespec="seconds") if transactions else None,
    }
    return Labelled(transactions, pd.DataFrame(fraud, columns=["tx_id", "labelled_at"]), window)
