"""Scored transactions and alerts, from PostgreSQL."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status
from pydantic import AwareDatetime

from api import queries
from api.deps import DbDep, SettingsDep
from api.schemas import StoredTransaction, TransactionPage
from fraudcore.schemas import IDENTIFIER_PATTERN

router = APIRouter(tags=["transactions"])

Start = Annotated[AwareDatetime | None, Query(description="event time from (ISO 8601 with a time zone)")]
End = Annotated[AwareDatetime | None, Query(description="event time before (ISO 8601 with a time zone)")]
Wallet = Annotated[
    str | None,
    Query(min_length=1, max_length=128, pattern=IDENTIFIER_PATTERN, description="sender or receiver"),
]
MinScore = Annotated[float | None, Query(ge=0, le=1, description="only scores at least this")]
Asset = Annotated[str | None, Query(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.\-]+$")]
Limit = Annotated[int, Query(ge=1, description="rows per page (at most API__PAGE_MAX)")]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]


def _page(
    db: DbDep, settings: SettingsDep, where: queries.TxFilter, limit: int, offset: int
) -> TransactionPage:
    if where.start and where.end and where.start >= where.end:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "start must be before end")
    if limit > settings.api.page_max:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"limit is at most {settings.api.page_max} (API__PAGE_MAX)"
        )
    found = queries.transactions(db, where, limit, offset)
    return TransactionPage(
        items=[StoredTransaction.model_validate(r) for r in found],
        limit=limit,
        offset=offset,
        next_offset=offset + limit if len(found) == limit else None,
    )


@router.get("/transactions", response_model=TransactionPage)
def list_transactions(
    db: DbDep,
    settings: SettingsDep,
    start: Start = None,
    end: End = None,
    wallet: Wallet = None,
    fraud_only: bool = False,
    min_score: MinScore = None,
    asset: Asset = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> TransactionPage:
    """Scored transactions, newest event first, filtered and paginated."""
    where = queries.TxFilter(start, end, wallet, fraud_only, min_score, asset.upper() if asset else None)
    return _page(db, settings, where, limit, offset)


@router.get("/alerts", response_model=TransactionPage)
def list_alerts(
    db: DbDep,
    settings: SettingsDep,
    start: Start = None,
    end: End = None,
    min_score: MinScore = None,
    asset: Asset = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> TransactionPage:
    """Transactions the model flagged as fraud, newest first, with any labels they have received."""
    where = queries.TxFilter(start, end, None, True, min_score, asset.upper() if asset else None)
    return _page(db, settings, where, limit, offset)


@router.get(
    "/transactions/{tx_id}",
    response_model=StoredTransaction,
    responses={404: {"description": "no such transaction in PostgreSQL"}},
)
def get_transaction(
    db: DbDep, tx_id: Annotated[str, Path(min_length=1, max_length=128, pattern=IDENTIFIER_PATTERN)]
) -> StoredTransaction:
    """One transaction: its score, the reasons, the model version, and its labels."""
    row = queries.transaction(db, tx_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no transaction {tx_id!r} (not stored, or not yet)")
    return StoredTransaction.model_validate(row)
