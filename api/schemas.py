"""What the API answers with and accepts (the Kafka messages themselves are in :mod:`fraudcore.schemas`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from fraudcore.schemas import Code, Identifier, Label, ScoredTransaction


class StoredLabel(BaseModel):
    source: Literal["ground_truth", "analyst"]
    is_fraud: bool
    typology: str | None = None
    labelled_at: datetime
    note: str | None = None
    analyst: str | None = None
    received_at: datetime | None = None


class StoredTransaction(ScoredTransaction):
    """A scored transaction as PostgreSQL holds it, with the labels that have arrived for it."""

    model_config = ConfigDict(strict=False, extra="ignore", frozen=True)

    stored_at: datetime | None = None
    labels: list[StoredLabel] = Field(default_factory=list)


class TransactionPage(BaseModel):
    items: list[StoredTransaction]
    limit: int
    offset: int
    next_offset: int | None = Field(description="pass as `offset` for the next page; null on the last one")


class Side(BaseModel):
    transactions: int
    usd: float
    alerts: int
    max_score: float | None
    first_seen: datetime | None
    last_seen: datetime | None


class Counterparty(BaseModel):
    address: str
    direction: Literal["sent_to", "received_from"]
    transactions: int
    usd: float
    alerts: int


class WalletProfile(BaseModel):
    address: str
    as_sender: Side
    as_receiver: Side
    confirmed_fraud: int = Field(description="its transactions (either side) labelled fraud so far")
    accounts: list[str] = Field(description="customer accounts that sent from this wallet")
    counterparties: list[Counterparty]
    recent: list[StoredTransaction]


class RiskyWallet(BaseModel):
    address: str
    alerts: int


class LiveStats(BaseModel):
    """From Redis: the last ``minutes`` minutes of the pipeline (minutes of scoring, wall clock)."""

    minutes: int
    transactions: int
    fraud: int
    fraud_rate: float
    volume_usd: float
    fraud_usd: float
    per_second: float
    dead_letters: int
    histogram: list[int] = Field(description="scores in 20 buckets of 0.05")
    totals: dict[str, float]
    series: list[dict[str, Any]]
    risky_wallets: list[RiskyWallet]


class ModelInfo(BaseModel):
    version: str
    created_at: str | None = None
    approved: bool
    approval: str | None = None
    current: bool = Field(description="the version the scoring consumer uses (the newest approved)")
    threshold: float | None = None
    training_window: dict[str, Any] | None = None
    validation: dict[str, Any] | None = None
    metrics: dict[str, Any] | None = None


class LabelIn(BaseModel):
    """An analyst's verdict on a transaction."""

    model_config = ConfigDict(extra="forbid")

    tx_id: Identifier
    is_fraud: bool
    typology: Code | None = None
    note: Annotated[str, StringConstraints(max_length=2000)] | None = None
    analyst: Identifier | None = None


class LabelAccepted(BaseModel):
    status: Literal["accepted"] = "accepted"
    label: Label
    detail: str
