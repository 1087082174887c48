"""Retraining runs as MongoDB records (``retrain_runs``): requested, running, and how each ended.

The retrainer writes them; the API lists them and adds requests; the Streamlit app shows them.
A request is a record with ``status: requested``; the retrainer claims the oldest one, runs it
and fills in the rest: the data window, the champion's and the candidate's metrics on the same
held-out period, and the decision with its reason.

Statuses: ``requested`` → ``running`` → ``promoted`` | ``rejected`` | ``skipped`` | ``failed``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.database import Database

RUNS = "retrain_runs"
Status = Literal["requested", "running", "promoted", "rejected", "skipped", "failed"]
Trigger = Literal["schedule", "api", "cli"]
FINISHED = ("promoted", "rejected", "skipped", "failed")


class ModelScore(BaseModel):
    version: str | None = None
    metrics: dict[str, Any] = Field(default_factory=dict)


class RunRecord(BaseModel):
    id: str
    trigger: Trigger
    status: Status
    requested_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    reason: str | None = Field(default=None, description="why it was promoted, rejected, skipped or failed")
    window: dict[str, Any] = Field(default_factory=dict, description="data pulled: times, rows, labels")
    champion: ModelScore | None = None
    candidate: ModelScore | None = None
    metric: str | None = None
    seconds: float | None = None

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> RunRecord:
        return cls.model_validate({**doc, "id": doc["_id"]})

    def doc(self) -> dict[str, Any]:
        out = self.model_dump(exclude={"id"})
        out["_id"] = self.id
        return out


def request_run(db: Database[dict[str, Any]], trigger: Trigger) -> RunRecord:
    """Queue a run; the retrainer service picks it up within RETRAIN__REQUEST_POLL_S seconds."""
    record = RunRecord(
        id=f"run-{uuid.uuid4().hex[:12]}", trigger=trigger, status="requested", requested_at=datetime.now(UTC)
    )
    db[RUNS].insert_one(record.doc())
    return record


def claim_request(db: Database[dict[str, Any]]) -> RunRecord | None:
    """The oldest requested run, now marked running; None if there is none."""
    doc = db[RUNS].find_one_and_update(
        {"status": "requested"},
        {"$set": {"status": "running", "started_at": datetime.now(UTC)}},
        sort=[("requested_at", ASCENDING)],
        return_document=ReturnDocument.AFTER,
    )
    return RunRecord.from_doc(doc) if doc else None


def save(db: Database[dict[str, Any]], record: RunRecord) -> None:
    db[RUNS].replace_one({"_id": record.id}, record.doc(), upsert=True)


def recent_runs(db: Database[dict[str, Any]], limit: int = 20) -> list[RunRecord]:
    docs = db[RUNS].find({}).sort("requested_at", DESCENDING).limit(limit)
    return [RunRecord.from_doc(d) for d in docs]


def get_run(db: Database[dict[str, Any]], run_id: str) -> RunRecord | None:
    doc = db[RUNS].find_one({"_id": run_id})
    return RunRecord.from_doc(doc) if doc else None
