"""A user's transaction file read through a column mapping: one mapping for replay, training, evaluation.

A mapping names, for each field of a :class:`~fraudcore.schemas.Transaction`, the column of
the file that holds it, plus where the fraud label is. Only the sender, the receiver, the
amount and the event time are required; a missing ``tx_id`` is made from the row number,
a missing ``sender_account_id`` is the sender address, and a missing ``amount_usd`` means
the amount already is in US dollars. Times may be ISO 8601 (UTC when no offset is given)
or Unix seconds; amounts may be strings.

>>> mapping = ColumnMapping.parse(["sender_address=from", "receiver_address=to", "amount=value",
...                                 "event_time=ts", "label=is_fraud"])
>>> rows = [{"from": "0xa", "to": "0xb", "value": "12.50", "ts": "1767225600", "is_fraud": "1"},
...         {"from": "0xa", "to": "0xb", "value": "-3", "ts": "2026-01-01T00:05:00", "is_fraud": "0"}]
>>> good, bad = mapping.convert(rows, first_row=1)
>>> good[0].tx.amount_usd, good[0].tx.event_time.isoformat(), good[0].is_fraud
(12.5, '2026-01-01T00:00:00+00:00', True)
>>> bad
[RejectedRow(row=2, reason='amount: Input should be greater than or equal to 0; amount_usd: ...')]
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from fraudcore.schemas import Transaction, describe

REQUIRED = ("sender_address", "receiver_address", "amount", "event_time")
TRUE = {"1", "true", "yes", "fraud"}
FALSE = {"0", "false", "no", "legit", ""}


class MappingError(ValueError):
    """The mapping or the file does not fit: names the column, and the first bad rows where there are any."""


@dataclass(frozen=True, slots=True)
class MappedRow:
    row: int  # 1-based, counting data rows (the CSV header is not a row)
    tx: Transaction
    is_fraud: bool | None  # None when the file has no label column
    typology: str | None = None
    label_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class RejectedRow:
    row: int
    reason: str


class ColumnMapping(BaseModel):
    """Transaction field (or ``label``, ``typology``, ``label_time``) -> column of the user's file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sender_address: str
    receiver_address: str
    amount: str
    event_time: str
    tx_id: str | None = None
    sender_account_id: str | None = None
    amount_usd: str | None = None
    chain: str | None = None
    asset: str | None = None
    fee: str | None = None
    fee_usd: str | None = None
    tx_type: str | None = None
    channel: str | None = None
    device_id: str | None = None
    ip_country: str | None = None
    is_new_device: str | None = None
    is_new_country: str | None = None
    is_new_channel: str | None = None
    label: str | None = None
    typology: str | None = None
    label_time: str | None = None

    @classmethod
    def parse(cls, pairs: Iterable[str]) -> ColumnMapping:
        """From ``field=column`` pairs, as given on a command line."""
        fields: dict[str, str] = {}
        for pair in pairs:
            name, sep, column = pair.partition("=")
            if not sep or not name.strip() or not column.strip():
                raise MappingError(f"a mapping is field=column, got {pair!r}")
            fields[name.strip()] = column.strip()
        return cls.build(fields)

    @classmethod
    def load(cls, path: str | Path) -> ColumnMapping:
        """From a YAML or JSON file holding ``field: column`` pairs."""
        text = Path(path).read_text()
        data = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
        if not isinstance(data, dict):
            raise MappingError(f"{path}: expected field: column pairs")
        return cls.build({str(k): str(v) for k, v in data.items()})

    @classmethod
    def build(cls, fields: Mapping[str, str]) -> ColumnMapping:
        missing = [name for name in REQUIRED if name not in fields]
        if missing:
            raise MappingError(f"the mapping must name a column for: {', '.join(missing)}")
        unknown = sorted(set(fields) - set(cls.model_fields))
        if unknown:
            raise MappingError(
                f"unknown field(s) in the mapping: {', '.join(unknown)}; known: {', '.join(cls.model_fields)}"
            )
        return cls(**fields)

    @property
    def columns(self) -> dict[str, str]:
        """Field -> column, for the fields that are mapped."""
        return {name: column for name, column in self.model_dump().items() if column is not None}

    def check_columns(self, available: Iterable[str]) -> None:
        """Raise if a mapped column is not in the file."""
        present = set(available)
        absent = {f: c for f, c in self.columns.items() if c not in present}
        if absent:
            named = ", ".join(f"{field} -> {column!r}" for field, column in absent.items())
            raise MappingError(
                f"column(s) not in the file: {named}; the file has: {', '.join(sorted(present))}"
            )

    def convert(
        self, rows: Iterable[Mapping[str, Any]], first_row: int, tx_prefix: str = "row"
    ) -> tuple[list[MappedRow], list[RejectedRow]]:
        """Rows to transactions (and labels); a row that does not fit is rejected with a reason."""
        columns = self.columns
        good: list[MappedRow] = []
        bad: list[RejectedRow] = []
        for number, row in enumerate(rows, start=first_row):
            try:
                good.append(self._one(row, columns, number, tx_prefix))
            except (ValueError, ValidationError) as exc:
                reason = describe(exc) if isinstance(exc, ValidationError) else str(exc)
                bad.append(RejectedRow(number, reason))
        return good, bad

    def _one(self, row: Mapping[str, Any], columns: dict[str, str], number: int, prefix: str) -> MappedRow:
        values: dict[str, Any] = {}
        for name, column in columns.items():
            value = row.get(column)
            if _blank(value):
                continue
            values[name] = value
        label = values.pop("label", None)
        typology = values.pop("typology", None)
        label_time = values.pop("label_time", None)
        for name in REQUIRED:
            if name not in values:
                raise ValueError(f"{name}: empty (column {columns[name]!r})")
        values["event_time"] = parse_time(values["event_time"], "event_time")
        for name in ("amount", "amount_usd", "fee", "fee_usd"):
            if name in values:
                values[name] = parse_number(values[name], name)
        for name in ("is_new_device", "is_new_country", "is_new_channel"):
            if name in values:
                values[name] = parse_flag(values[name], name)
        for name in ("tx_id", "sender_account_id", "sender_address", "receiver_address", "device_id"):
            if name in values:
                values[name] = str(values[name]).strip()
        values.setdefault("tx_id", f"{prefix}-{number}")
        values.setdefault("sender_account_id", values["sender_address"])
        values.setdefault("amount_usd", values["amount"])
        tx = Transaction.model_validate(values, strict=False)
        return MappedRow(
            row=number,
            tx=tx,
            is_fraud=parse_flag(label, "label") if label is not None else (False if self.label else None),
            typology=str(typology) if typology is not None else None,
            label_time=parse_time(label_time, "label_time") if label_time is not None else None,
        )


def _blank(value: Any) -> bool:
    return (
        value is None
        or (isinstance(value, float) and math.isnan(value))
        or (isinstance(value, str) and not value)
    )


def parse_time(value: Any, name: str) -> datetime:
    """ISO 8601 (UTC when it has no offset) or Unix seconds, to an aware UTC datetime."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value).strip()
    try:
        return datetime.fromtimestamp(float(text), UTC)
    except (ValueError, OverflowError, OSError):
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{name}: not a time (ISO 8601 or Unix seconds): {text[:40]!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_number(value: Any, name: str) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{name}: not a number: {value!r}")
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        raise ValueError(f"{name}: not a number: {str(value)[:40]!r}") from None


def parse_flag(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE - {""}:
        return False
    raise ValueError(f"{name}: expected 0 or 1 (or true/false), got {str(value)[:40]!r}")


def read_rows(path: str | Path, chunk_size: int = 50_000) -> Iterator[tuple[list[str], list[dict[str, Any]]]]:
    """A CSV or Parquet file in chunks of rows (dicts), with its column names; memory stays bounded."""
    path = Path(path)
    if not path.exists():
        raise MappingError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in {".parquet", ".pq"}:
        import pyarrow.parquet as pq

        parquet = pq.ParquetFile(path)
        names = parquet.schema_arrow.names
        for batch in parquet.iter_batches(batch_size=chunk_size):
            yield names, batch.to_pylist()
    elif suffix in {".csv", ".txt", ".gz"}:
        import pandas as pd

        # every column as text: this module parses times and numbers itself, with row numbers in errors
        reader = pd.read_csv(path, dtype=str, keep_default_na=False, chunksize=chunk_size)
        for frame in reader:
            yield list(frame.columns), frame.to_dict("records")
    else:
        raise MappingError(f"{path}: expected a .csv or .parquet file")


def map_file(
    path: str | Path, mapping: ColumnMapping, chunk_size: int = 50_000
) -> Iterator[tuple[list[MappedRow], list[RejectedRow]]]:
    """``path`` through ``mapping``, chunk by chunk: the rows that fit, and those rejected with reasons."""
    first = 1
    for names, rows in read_rows(path, chunk_size):
        if first == 1:
            mapping.check_columns(names)
        yield mapping.convert(rows, first_row=first, tx_prefix=Path(path).stem)
        first += len(rows)
