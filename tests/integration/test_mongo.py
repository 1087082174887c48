"""A round trip through the embedded MongoDB server, and its indexes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pymongo.errors import BulkWriteError

from fraudcore.clients.mongo import INDEXES, ensure_indexes, make_mongo, mongo_db
from fraudcore.settings import Settings
from tests.helpers import unique


def test_documents_round_trip_and_tx_id_is_the_key(settings: Settings) -> None:
    client = make_mongo(settings)
    try:
        collection = mongo_db(client, settings)[unique("tx")]
        now = datetime(2026, 11, 29, 12, 30, tzinfo=UTC)
        collection.insert_many([{"_id": "tx-1", "amount_usd": 10.5, "event_time": now}, {"_id": "tx-2"}])
        assert collection.find_one({"_id": "tx-1"}) == {"_id": "tx-1", "amount_usd": 10.5, "event_time": now}
        # a replay of the same ids inserts nothing new
        with pytest.raises(BulkWriteError):
            collection.insert_many([{"_id": "tx-1"}, {"_id": "tx-3"}], ordered=False)
        assert collection.count_documents({}) == 3
    finally:
        client.close()


def test_bootstrap_created_the_indexes_and_a_second_run_changes_nothing(settings: Settings) -> None:
    client = make_mongo(settings)
    try:
        db = mongo_db(client, settings)
        ensure_indexes(db)
        for collection, indexes in INDEXES.items():
            names = set(db[collection].index_information()) if indexes else set()
            assert {i.document["name"] for i in indexes} <= names
    finally:
        client.close()
