"""A wallet's profile: both sides of its activity, its counterparties, and its recent history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status

from api import queries
from api.deps import DbDep
from api.schemas import Counterparty, Side, StoredTransaction, WalletProfile
from fraudcore.schemas import IDENTIFIER_PATTERN

router = APIRouter(tags=["wallets"])


@router.get(
    "/wallets/{address}",
    response_model=WalletProfile,
    responses={404: {"description": "no stored transaction involves this wallet"}},
)
def get_wallet(
    db: DbDep,
    address: Annotated[str, Path(min_length=1, max_length=128, pattern=IDENTIFIER_PATTERN)],
    history: Annotated[int, Query(ge=1, le=500, description="recent transactions returned")] = 50,
    counterparties: Annotated[int, Query(ge=1, le=200)] = 20,
) -> WalletProfile:
    """Totals as sender and as receiver, alerts, confirmed fraud, top counterparties, recent history."""
    profile = queries.wallet(db, address, counterparties)
    if profile["as_sender"]["transactions"] == 0 and profile["as_receiver"]["transactions"] == 0:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no stored transaction involves wallet {address!r}")
    recent = queries.transactions(db, queries.TxFilter(wallet=address), history, 0)
    return WalletProfile(
        address=address,
        as_sender=Side(**profile["as_sender"]),
        as_receiver=Side(**profile["as_receiver"]),
        confirmed_fraud=profile["confirmed_fraud"],
        accounts=profile["accounts"],
        counterparties=[Counterparty(**c) for c in profile["counterparties"]],
        recent=[StoredTransaction.model_validate(r) for r in recent],
    )
