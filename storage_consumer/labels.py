"""Labels onto the MongoDB transaction documents, kept aside when the transaction is not stored yet.

A label is written on its transaction's document as ``labels.<source>`` (``ground_truth`` or
``analyst``): ``{is_fraud, typology, labelled_at, note, analyst, received_at}``. The retrainer
reads them from there, together with ``received_at`` (when the pipeline learned it), so that a
training run only uses labels that had arrived by its cut-off.

A label whose transaction is not in MongoDB yet waits in ``labels_waiting`` (same ``_id``) and is
moved onto the document when the scored transaction comes through (the scoring consumer writes
MongoDB before it routes a transaction, so by then the document exists).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pymongo import UpdateOne
from pymongo.database import Database

from fraudcore.schemas import Label

WAITING = "labels_waiting"
RECHECK_S = 5.0  # how stale "nothing is waiting" may be (another instance may have added some)
SWEEP_S = 60.0  # every so often, every waiting label is checked (a race between two instances)
SWEEP_LIMIT = 10_000


def label_fields(label: Label, received_at: datetime) -> dict[str, Any]:
    return {
        f"labels.{label.source}": {
            "is_fraud": label.is_fraud,
            "typology": label.typology,
            "labelled_at": label.labelled_at,
            "note": label.note,
            "analyst": label.analyst,
            "received_at": received_at,
        }
    }


class MongoLabels:
    def __init__(
        self, db: Database[dict[str, Any]], clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.transactions = db["transactions"]
        self.waiting = db[WAITING]
        self.clock = clock
        self._checked = 0.0
        self._any_waiting = True  # until the first look says otherwise
        self._swept = time.monotonic()

    def apply(self, labels: list[Label]) -> int:
        """Write labels onto their documents; those whose transaction is not stored yet wait (counted)."""
        if not labels:
            return 0
        now = self.clock()
        ids = list({x.tx_id for x in labels})
        found = {d["_id"] for d in self.transactions.find({"_id": {"$in": ids}}, {"_id": 1})}
        on_docs = [
            UpdateOne({"_id": x.tx_id}, {"$set": label_fields(x, now)}) for x in labels if x.tx_id in found
        ]
        later = [
            UpdateOne({"_id": x.tx_id}, {"$set": label_fields(x, now)}, upsert=True)
            for x in labels
            if x.tx_id not in found
        ]
        if on_docs:
            self.transactions.bulk_write(on_docs, ordered=True)
        if later:
            self.waiting.bulk_write(later, ordered=True)
            self._any_waiting = True
        return len(later)

    def arrived(self, tx_ids: list[str]) -> int:
        """Transactions just stored: move any labels that were waiting for them. Returns how many moved."""
        if not tx_ids or not self._may_be_waiting():
            return 0
        return self._move(list(self.waiting.find({"_id": {"$in": tx_ids}})))

    def sweep(self, force: bool = False) -> int:
        """Move every waiting label whose transaction is stored now (each minute, or when forced).

        This catches a label that one instance set aside while another instance stored its
        transaction in the same few seconds."""
        if not force and time.monotonic() - self._swept < SWEEP_S:
            return 0
        self._swept = time.monotonic()
        waiting = list(self.waiting.find({}, limit=SWEEP_LIMIT))
        if not waiting:
            return 0
        stored = {
            d["_id"]
            for d in self.transactions.find({"_id": {"$in": [w["_id"] for w in waiting]}}, {"_id": 1})
        }
        return self._move([w for w in waiting if w["_id"] in stored])

    def _move(self, early: list[dict[str, Any]]) -> int:
        if not early:
            return 0
        self.transactions.bulk_write(
            [UpdateOne({"_id": d["_id"]}, {"$set": _flatten(d["labels"])}) for d in early], ordered=True
        )
        self.waiting.delete_many({"_id": {"$in": [d["_id"] for d in early]}})
        return len(early)

    def _may_be_waiting(self) -> bool:
        now = time.monotonic()
        if now - self._checked > RECHECK_S:
            self._checked = now
            self._any_waiting = self.waiting.estimated_document_count() > 0
        return self._any_waiting


def _flatten(labels: dict[str, Any]) -> dict[str, Any]:
    return {f"labels.{source}": value for source, value in labels.items()}
