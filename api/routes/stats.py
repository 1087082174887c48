"""Statistics: live from Redis (see :mod:`fraudcore.live`); breakdowns and model quality from PostgreSQL."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from api import queries
from api.deps import DbDep, LiveDep
from api.schemas import LiveStats, RiskyWallet

router = APIRouter(prefix="/stats", tags=["live statistics"])


@router.get("/live", response_model=LiveStats)
def live_stats(
    live: LiveDep,
    minutes: Annotated[int, Query(ge=1, le=24 * 60, description="how far back")] = 60,
    wallets: Annotated[int, Query(ge=0, le=100, description="top risky wallets returned")] = 10,
) -> LiveStats:
    """Throughput, fraud rate, volumes, score histogram and the per-minute series, plus risky wallets."""
    snapshot = live.snapshot(minutes)
    return LiveStats(
        minutes=minutes,
        transactions=snapshot.transactions,
        fraud=snapshot.fraud,
        fraud_rate=snapshot.fraud_rate,
        volume_usd=snapshot.volume_usd,
        fraud_usd=snapshot.fraud_usd,
        per_second=snapshot.per_second,
        dead_letters=snapshot.dead_letters,
        histogram=snapshot.histogram,
        totals=snapshot.totals,
        series=[m.__dict__ for m in snapshot.minutes],
        risky_wallets=[RiskyWallet(address=a, alerts=n) for a, n in live.risky_wallets(wallets)]
        if wallets
        else [],
    )


@router.get("/recent")
def recent(
    live: LiveDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    alerts_only: bool = False,
) -> list[dict[str, Any]]:
    """The latest scored transactions (or alerts) as they were routed, newest first: no database query."""
    return live.recent(limit, alerts_only)


@router.get("/dead-letters")
def dead_letters(live: LiveDep, limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> list[dict[str, Any]]:
    """The latest dead letters of every service, newest first, with their reasons."""
    return live.dead_letters(limit)


@router.get("/breakdown")
def breakdown(
    db: DbDep,
    by: Annotated[Literal["asset", "chain", "typology"], Query(description="what to group by")] = "asset",
    hours: Annotated[int, Query(ge=1, le=24 * 90, description="stored in the last hours")] = 24,
) -> list[dict[str, Any]]:
    """Transactions, alerts, flagged USD and confirmed fraud per asset, chain or (confirmed) typology."""
    return queries.breakdown(db, by, hours)


@router.get("/quality")
def quality(
    db: DbDep,
    hours: Annotated[int, Query(ge=1, le=24 * 90)] = 24,
    unit: Annotated[Literal["minute", "hour", "day"], Query(description="period length")] = "hour",
) -> list[dict[str, Any]]:
    """Model quality over time from the labels that have arrived: precision and recall per period.

    Recent periods look worse than they are: their fraud is not all labelled yet."""
    return queries.quality(db, hours, unit)
