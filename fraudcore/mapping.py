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
>>> [(b.row, b.reason) for b in bad]
[(2, "amount (column 'value'): Input should be greater than or equal to 0; amount_usd: ...")]
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from fraudcore.schemas import Transaction, describe

REQUIRED = ("sender_address", "receiver_address", "amount", "event_time")
# what a mapping may name besides a transaction's fields: the ground truth, kept off the transaction
LABEL_FIELDS = ("label", "typology", "label_time")
# a transaction's fields a file may hold (the producer's own stamp is not one of them)
TRANSACTION_FIELDS = tuple(name for name in Transaction.model_fields if name != "produced_at")
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
    # tests/unit/simulator/test_replay.py keeps these fields equal to TRANSACTION_FIELDS + LABEL_FIELDS

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
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise MappingError(f"{path}: cannot read the mapping ({exc.strerror or exc})") from None
        data = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
        if not isinstance(data, dict):
            raise MappingError(f"{path}: expected field: column pairs")
        return cls.build({str(k): str(v) for k, v in data.items()})

    @classmethod
    def from_args(cls, path: str | Path | None, pairs: Iterable[str]) -> ColumnMapping:
        """A mapping file, ``field=column`` pairs, or both (the pairs win), as the command lines take them."""
        pairs = list(pairs)
        if path is None:
            return cls.parse(pairs)
        mapping = cls.load(path)
        if pairs:
            fields = dict(mapping.columns)
            for pair in pairs:
                name, sep, column = pair.partition("=")
                if not sep or not name.strip() or not column.strip():
                    raise MappingError(f"a mapping is field=column, got {pair!r}")
                fields[name.strip()] = column.strip()
            mapping = cls.build(fields)
        return mapping

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

    @property
    def missing(self) -> tuple[str, ...]:
        """The transaction fields this mapping does not name (the file lacks them)."""
        return tuple(name for name in TRANSACTION_FIELDS if getattr(self, name) is None)

    def convert(
        self,
        rows: Iterable[Mapping[str, Any]],
        first_row: int = 1,
        tx_prefix: str = "row",
        numbers: Iterable[int] | None = None,
    ) -> tuple[list[MappedRow], list[RejectedRow]]:
        """Rows to transactions (and labels); a row that does not fit is rejected with a reason.

        Rows are numbered from ``first_row``, or by ``numbers`` (rows read out of file order).
        """
        columns = self.columns
        good: list[MappedRow] = []
        bad: list[RejectedRow] = []
        numbered = zip(numbers, rows, strict=True) if numbers is not None else enumerate(rows, first_row)
        for number, row in numbered:
            try:
                good.append(self._one(row, columns, number, tx_prefix))
            except (ValueError, ValidationError) as exc:
                reason = describe(exc) if isinstance(exc, ValidationError) else str(exc)
                bad.append(RejectedRow(number, _name_columns(reason, columns)))
        return good, bad

    def _one(self, row: Mapping[str, Any], columns: dict[str, str], number: int, prefix: str) -> MappedRow:
        values: dict[str, Any] = {}
        for name, column in columns.items():
            value = row.get(column)
            if value is None or (value == "" if isinstance(value, str) else _blank(value)):
                continue
            values[name] = value
        label = values.pop("label", None)
        typology = values.pop("typology", None)
        label_time = values.pop("label_time", None)
        for name in REQUIRED:
            if name not in values:
                raise ValueError(f"{name}: empty")
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


def _name_columns(reason: str, columns: Mapping[str, str]) -> str:
    """``amount: ...`` -> ``amount (column 'value'): ...``: the user knows their file by its columns."""
    parts = []
    for part in reason.split("; "):
        field, sep, rest = part.partition(": ")
        if sep and field in columns:
            part = f"{field} (column {columns[field]!r}): {rest}"
        parts.append(part)
    return "; ".join(parts)


def rejects_message(path: str | Path, bad: Sequence[RejectedRow], what: str, limit: int = 5) -> str:
    """The error for a file with rows that do not fit: the first bad rows, each with its column and reason."""
    lines = [f"{path}: row(s) that do not fit the mapping; {what} needs every row to fit (the first shown):"]
    lines += [f"  row {b.row}: {b.reason}" for b in bad[:limit]]
    if len(bad) > limit:
        lines.append(f"  ... and {len(bad) - limit:,} more among the rows read so far")
    return "\n".join(lines)


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
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        raise ValueError(f"{name}: not a number: {str(value)[:40]!r}") from None


def parse_flag(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE - {""}:
        return False
    raise ValueError(f"{name}: expected 0 or 1 (or true/false), got {str(value)[:40]!r}")


def _kind(path: Path) -> str:
    if not path.is_file():
        raise MappingError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in {".parquet", ".pq"}:
        return "parquet"
    if suffix in {".csv", ".txt", ".gz"}:
        return "csv"
    raise MappingError(f"{path}: expected a .csv or .parquet file")


def column_names(path: str | Path) -> list[str]:
    path = Path(path)
    if _kind(path) == "parquet":
        import pyarrow.parquet as pq

        return list(pq.ParquetFile(path).schema_arrow.names)
    import pandas as pd

    return list(pd.read_csv(path, dtype=str, nrows=0).columns)


def event_seconds(path: str | Path, column: str) -> np.ndarray:
    """The file's event times as Unix seconds (NaN where unparsable), reading that one column only."""
    path = Path(path)
    if _kind(path) == "parquet":
        import pyarrow.parquet as pq

        parts = [pq.read_table(path, columns=[column]).column(0).to_pandas()]
    else:
        parts = [batch.column(0).to_pandas() for batch in _csv_batches(path, column_names(path), [column])]
    return np.concatenate([_seconds(part) for part in parts]) if parts else np.zeros(0)


def _seconds(values: Any) -> np.ndarray:
    """parse_time, vectorised: Unix seconds, or ISO 8601 (UTC when no offset is given)."""
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(values):
        stamps = values.dt.tz_localize("UTC") if values.dt.tz is None else values
        return np.asarray((stamps - pd.Timestamp(0, tz="UTC")).dt.total_seconds(), dtype=np.float64)
    out = np.asarray(pd.to_numeric(values, errors="coerce"), dtype=np.float64)
    rest = np.isnan(out)
    if rest.any():
        texts = values[rest].astype(str).str.strip().str.replace("Z", "+00:00", regex=False)
        parsed = pd.to_datetime(texts, utc=True, format="ISO8601", errors="coerce")
        out[rest] = np.asarray((parsed - pd.Timestamp(0, tz="UTC")).dt.total_seconds(), dtype=np.float64)
    return out


def count_rows(path: str | Path) -> int | None:
    """Data rows of a CSV (lines less the header; quoted line breaks count twice) or a Parquet file.

    For a progress bar: None for a compressed CSV, whose rows are not counted.
    """
    path = Path(path)
    if _kind(path) == "parquet":
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)
    if path.suffix.lower() == ".gz":
        return None
    lines, last = 0, b"\n"
    with path.open("rb") as f:
        while block := f.read(1 << 22):
            lines += block.count(b"\n")
            last = block[-1:]
    return max(lines + (last != b"\n") - 1, 0)


def read_rows(path: str | Path, chunk_size: int = 50_000) -> Iterator[tuple[list[str], list[dict[str, Any]]]]:
    """A CSV or Parquet file in chunks of rows (dicts), with its column names; memory stays bounded."""
    path = Path(path)
    if _kind(path) == "parquet":
        import pyarrow.parquet as pq

        parquet = pq.ParquetFile(path)
        names = parquet.schema_arrow.names
        for batch in parquet.iter_batches(batch_size=chunk_size):
            yield names, batch.to_pylist()
    else:
        names = column_names(path)
        for batch in _csv_batches(path, names):
            for start in range(0, batch.num_rows, chunk_size):
                yield names, batch.slice(start, chunk_size).to_pylist()


def _csv_batches(path: Path, names: list[str], columns: list[str] | None = None) -> Iterator[Any]:
    """A CSV as Arrow record batches of text columns (a few MB each), header named as pandas names it.

    Every column is read as text: this module parses times and numbers itself, with row numbers
    in its errors. Arrow's reader parses in C, several times faster than pandas' chunks.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=1 << 24),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                strings_can_be_null=False,
                include_columns=columns,
            ),
        )
        yield from reader
    except pa.ArrowInvalid as exc:  # e.g. a row with a column more or less than the header
        raise MappingError(f"{path}: not a well-formed CSV: {exc}") from None


def _read_in_order(
    path: Path, order: np.ndarray, chunk_size: int
) -> Iterator[tuple[np.ndarray, list[dict[str, Any]]]]:
    """The whole file as one Arrow table (text columns, about the file's size), rows taken in ``order``."""
    import pyarrow as pa

    if _kind(path) == "parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path)
    else:
        import pyarrow.csv as pacsv

        names = column_names(path)
        try:
            table = pacsv.read_csv(
                path,
                convert_options=pacsv.ConvertOptions(
                    column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=False
                ),
            )
        except pa.ArrowInvalid as exc:
            raise MappingError(f"{path}: not a well-formed CSV: {exc}") from None
    for start in range(0, len(order), chunk_size):
        part = order[start : start + chunk_size]
        yield part + 1, table.take(pa.array(part)).to_pylist()


def map_file(
    path: str | Path, mapping: ColumnMapping, chunk_size: int = 50_000, in_time_order: bool = False
) -> Iterator[tuple[list[MappedRow], list[RejectedRow]]]:
    """``path`` through ``mapping``, chunk by chunk: the rows that fit, and those rejected with reasons.

    ``in_time_order``: yield rows in event-time order (a stable sort) even if the file is not;
    a file that is in order already (one pass over its time column says so) is streamed as it
    is, one that is not is read whole (as Arrow, about its own size) and taken in order.
    """
    path = Path(path)
    mapping.check_columns(column_names(path))
    if in_time_order:
        times = event_seconds(path, mapping.event_time)
        known = times[~np.isnan(times)]
        if len(known) > 1 and bool((np.diff(known) < 0).any()):
            order = np.argsort(times, kind="stable")  # unparsable times last: reported as bad rows there
            for numbers, rows in _read_in_order(path, order, chunk_size):
                yield mapping.convert(rows, tx_prefix=path.stem, numbers=numbers.tolist())
            return
    first = 1
    for _names, rows in read_rows(path, chunk_size):
        yield mapping.convert(rows, first_row=first, tx_prefix=path.stem)
        first += len(rows)
