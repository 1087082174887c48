"""One retraining run at a time, across processes: a lease in MongoDB (``locks``) that expires.

A process that dies holding it blocks others only until ``RETRAIN__LOCK_TTL_S`` has passed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

LOCKS = "locks"


def acquire(db: Database[dict[str, Any]], name: str, holder: str, ttl_s: float) -> bool:
    now = datetime.now(UTC)
    try:
        doc = db[LOCKS].find_one_and_update(
            {"_id": name, "$or": [{"holder": None}, {"expires_at": {"$lt": now}}]},
            {"$set": {"holder": holder, "expires_at": now + timedelta(seconds=ttl_s), "since": now}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
    except DuplicateKeyError:  # it exists and someone else holds it
        return False
    return bool(doc and doc.get("holder") == holder)


def release(db: Database[dict[str, Any]], name: str, holder: str) -> None:
    db[LOCKS].update_one({"_id": name, "holder": holder}, {"$set": {"holder": None, "expires_at": None}})


def holder(db: Database[dict[str, Any]], name: str) -> str | None:
    doc = db[LOCKS].find_one({"_id": name})
    return doc.get("holder") if doc else None
