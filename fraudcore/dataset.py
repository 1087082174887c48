"""Offline datasets on disk: transactions, published labels and full ground truth, as Parquet.

A dataset is a directory::

    transactions.parquet   one row per Transaction, in event-time order
    labels.parquet         the labels as published (each with the time it arrived)
    truth.parquet          every fraud transaction's typology, labelled or not (for evaluation)
    summary.json           how it was made (seed, counts per typology, fraud rate)

The simulator writes it (``python -m simulator offline``); training reads it.

>>> import tempfile
>>> from datetime import UTC, datetime
>>> tx = Transaction(tx_id="tx-1", event_time=datetime(2026, 1, 1, tzinfo=UTC), sender_account_id="a",
...     sender_address="0xa", receiver_address="0xb", amount=1.0, amount_usd=3200.0)
>>> with tempfile.TemporaryDirectory() as folder:
...     with DatasetWriter(folder) as writer:
...         writer.add(tx, typology=None)
...     [t.tx_id for t in iter_transactions(folder)]
['tx-1']
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from fraudcore.schemas import Label, Transaction

TRANSACTIONS, LABELS, TRUTH, SUMMARY = (
    "transactions.parquet",
    "labels.parquet",
    "truth.parquet",
    "summary.json",
)
TIME = pa.timestamp("us", tz="UTC")
TRANSACTION_SCHEMA = pa.schema(
    [
        ("tx_id", pa.string()),
        ("event_time", TIME),
        ("sender_account_id", pa.string()),
        ("sender_address", pa.string()),
        ("receiver_address", pa.string()),
        ("amount", pa.float64()),
        ("amount_usd", pa.float64()),
        ("chain", pa.string()),
        ("asset", pa.string()),
        ("fee", pa.float64()),
        ("fee_usd", pa.float64()),
        ("tx_type", pa.string()),
        ("channel", pa.string()),
        ("device_id", pa.string()),
        ("ip_country", pa.string()),
        ("is_new_device", pa.bool_()),
        ("is_new_country", pa.bool_()),
        ("is_new_channel", pa.bool_()),
    ]
)
LABEL_SCHEMA = pa.schema(
    [
        ("tx_id", pa.string()),
        ("is_fraud", pa.bool_()),
        ("typology", pa.string()),
        ("source", pa.string()),
        ("labelled_at", TIME),
    ]
)
TRUTH_SCHEMA = pa.schema([("tx_id", pa.string()), ("typology", pa.string())])
CHUNK = 50_000


class DatasetWriter:
    """Writes a dataset directory in chunks, so memory stays flat however long the run."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._tx = _Table(self.folder / TRANSACTIONS, TRANSACTION_SCHEMA)
        self._labels = _Table(self.folder / LABELS, LABEL_SCHEMA)
        self._truth = _Table(self.folder / TRUTH, TRUTH_SCHEMA)

    def add(self, tx: Transaction, typology: str | None) -> None:
        self._tx.append(tx.model_dump(exclude={"produced_at"}))
        if typology is not None:
            self._truth.append({"tx_id": tx.tx_id, "typology": typology})

    def add_label(self, label: Label) -> None:
        self._labels.append(label.model_dump(include=set(LABEL_SCHEMA.names)))

    def write_summary(self, summary: dict[str, Any]) -> None:
        (self.folder / SUMMARY).write_text(json.dumps(summary, indent=2, default=str) + "\n")

    def close(self) -> None:
        for table in (self._tx, self._labels, self._truth):
            table.close()

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()


class _Table:
    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.schema = schema
        self.rows: list[dict[str, Any]] = []
        self.writer = pq.ParquetWriter(path, schema, compression="zstd")

    def append(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        if len(self.rows) >= CHUNK:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            self.writer.write_table(pa.Table.from_pylist(self.rows, schema=self.schema))
            self.rows = []

    def close(self) -> None:
        self.flush()
        self.writer.close()


def read_table(folder: str | Path, name: str) -> pa.Table:
    return pq.read_table(Path(folder) / name)


def iter_transactions(folder: str | Path, batch_size: int = CHUNK) -> Iterator[Transaction]:
    """The dataset's transactions, validated, in file order (event-time order)."""
    parquet = pq.ParquetFile(Path(folder) / TRANSACTIONS)
    for batch in parquet.iter_batches(batch_size=batch_size):
        for row in batch.to_pylist():
            # lax only where Parquet differs from JSON: enums arrive as their string values
            yield Transaction.model_validate({k: v for k, v in row.items() if v is not None}, strict=False)


def iter_labels(folder: str | Path) -> Iterator[Label]:
    """The published labels, in the order they arrived."""
    for row in read_table(folder, LABELS).sort_by("labelled_at").to_pylist():
        yield Label.model_validate({k: v for k, v in row.items() if v is not None}, strict=False)
