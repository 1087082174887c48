"""MongoDB client factory, readiness wait and the indexes every collection needs."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, MongoClient
from pymongo.database import Database

from fraudcore.clients.retry import redact, wait_until_ready
from fraudcore.settings import Settings

Document = dict[str, Any]
Client = MongoClient[Document]

# Collection name -> its secondary indexes. Kept deliberately few on the hot
# `transactions` collection: every secondary index divides the embedded server's
# insert rate (see ../shared/INFRA.md), and the transaction id is the `_id`.
INDEXES: dict[str, list[IndexModel]] = {
    "transactions": [],
    "pending_labels": [IndexModel([("labelled_at", ASCENDING)], name="labelled_at")],
    "retrain_runs": [
        IndexModel([("started_at", DESCENDING)], name="started_at_desc"),
        IndexModel([("requested_at", DESCENDING)], name="requested_at_desc"),
        IndexModel([("status", ASCENDING)], name="status"),
    ],
}


def make_mongo(settings: Settings) -> Client:
    timeout = settings.mongo.timeout_ms
    return MongoClient(
        str(settings.mongo.uri),
        serverSelectionTimeoutMS=timeout,
        connectTimeoutMS=timeout,
        socketTimeoutMS=max(timeout * 6, 30_000),
        tz_aware=True,
        appname="fraud",
    )


def mongo_db(client: Client, settings: Settings) -> Database[Document]:
    return client[settings.mongo.database]


def wait_mongo(settings: Settings, timeout_s: float = 60.0) -> Client:
    def probe() -> Client:
        client = make_mongo(settings)
        try:
            client.admin.command("ping")
        except Exception:
            client.close()
            raise
        return client

    return wait_until_ready("MongoDB", probe, timeout_s, redact(str(settings.mongo.uri)))


def ensure_indexes(db: Database[Document]) -> None:
    """Create every collection's indexes (idempotent: existing ones are left as they are)."""
    for collection, indexes in INDEXES.items():
        if indexes:
            db[collection].create_indexes(indexes)
