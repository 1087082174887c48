"""Retraining: request a run now, and see every run with its data window, metrics and decision."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status

from api.deps import ApiKeyDep, MongoDep
from fraudcore.training import runs
from fraudcore.training.runs import RunRecord

router = APIRouter(prefix="/retrain", tags=["retraining"])


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RunRecord,
    responses={401: {"description": "no X-API-Key header"}, 403: {"description": "wrong API key"}},
)
def request_retrain(_key: ApiKeyDep, mongo: MongoDep) -> RunRecord:
    """Queue a retraining run (needs `X-API-Key`); the retrainer service starts it within seconds."""
    return runs.request_run(mongo, "api")


@router.get("/runs", response_model=list[RunRecord])
def list_runs(mongo: MongoDep, limit: Annotated[int, Query(ge=1, le=200)] = 20) -> list[RunRecord]:
    """The latest runs, newest first: requested, running, promoted, rejected, skipped or failed, and why."""
    return runs.recent_runs(mongo, limit)


@router.get("/runs/{run_id}", response_model=RunRecord, responses={404: {"description": "no such run"}})
def get_run(mongo: MongoDep, run_id: Annotated[str, Path(min_length=1, max_length=64)]) -> RunRecord:
    record = runs.get_run(mongo, run_id)
    if record is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no retraining run {run_id!r}")
    return record
