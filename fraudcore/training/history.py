"""A history (transactions plus labels with their arrival times) featurised in one causal pass.

Labels are learned by the engine only once they have arrived (their arrival time at or before
the transaction being featurised), exactly as the scorer learns them from the labels topic.
Sequences are not stored per row (1M rows x 20 steps would not fit): each row keeps its own
step vector and the row numbers of its sender's previous transactions, and :meth:`sequences`
rebuilds any rows' sequences on demand, identical to what the engine keeps in its state.

A history comes from a dataset folder (:func:`load_history`) or from a user's own file read
through a column mapping (:func:`load_mapped_history`); the optional fields the data never
fills are recorded, and the models leave out the features that need them.
"""

from __future__ import annotations

import gc
import heapq
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from fraudcore.dataset import LABELS, TRUTH, iter_transactions, read_table
from fraudcore.features import FEATURES, STEP_FEATURES, FeatureConfig, FeatureEngine, MemoryStore
from fraudcore.mapping import ColumnMapping, MappingError, count_rows, map_file, rejects_message
from fraudcore.models.base import Columns
from fraudcore.schemas import Transaction

CHUNK = 2000
# a transaction's optional fields: a file may lack any of them
OPTIONAL_FIELDS = tuple(
    name
    for name, info in Transaction.model_fields.items()
    if not info.is_required() and name != "produced_at"
)


@dataclass(frozen=True, slots=True)
class Row:
    """One transaction and what is known of its label."""

    tx: Transaction
    label_at: float | None = None  # when its fraud label arrives (Unix seconds); None: never
    truth: str | None = None  # its typology if it is fraud, labelled or not (evaluation only)


@dataclass
class History:
    """Featurised transactions in time order, with what is known of their labels."""

    x: np.ndarray  # (n, len(FEATURES)) float32, NaN where undefined
    steps: np.ndarray  # (n, len(STEP_FEATURES)) float32
    previous: np.ndarray  # (n, sequence_length - 1) int32: the sender's earlier rows, -1 before its first
    # tx_id, time (Unix s), sender, receiver, account, amount_usd, label_time (NaN: never), typology
    frame: pd.DataFrame
    # optional fields no transaction filled (fee, device...): features that need one are left out
    missing_fields: tuple[str, ...] = ()
    # whether the truth names typologies (a file's label column alone says only "fraud")
    has_typology: bool = True

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def columns(self) -> Columns:
        """The features a model trained on this history uses."""
        return Columns.without(self.missing_fields)

    @property
    def times(self) -> np.ndarray:
        return np.asarray(self.frame["time"].to_numpy())

    def labelled_by(self, when: float) -> np.ndarray:
        """1 for transactions whose fraud label had arrived by ``when`` (Unix seconds), else 0."""
        return np.asarray(self.frame["label_time"].to_numpy() <= when, dtype=np.int8)

    @property
    def truth(self) -> np.ndarray:
        """1 for every fraud transaction, labelled or not (for evaluation only)."""
        return np.asarray(self.frame["typology"].notna().to_numpy(), dtype=np.int8)

    def sequences(self, rows: np.ndarray) -> np.ndarray:
        """(len(rows), sequence_length, step features): each sender's last steps, zero-padded in front."""
        previous = self.previous[rows]
        earlier = self.steps[np.maximum(previous, 0)]  # no padded copy of every step: zero what is before
        earlier[previous < 0] = 0.0
        return np.concatenate([earlier, self.steps[rows][:, None, :]], axis=1)


def featurise(
    transactions: Iterable[Transaction],
    labels: pd.DataFrame,
    config: FeatureConfig | None = None,
    total: int | None = None,
    progress: bool = True,
) -> History:
    """Run the feature engine over ``transactions`` (time order), learning ``labels`` as they arrive.

    ``labels`` has ``tx_id`` and ``labelled_at`` (Unix seconds) of fraud labels, plus an
    optional ``typology`` column with the full truth (for evaluation; the engine never sees it).
    """
    arrivals = labels.dropna(subset=["labelled_at"])
    label_at = dict(zip(arrivals["tx_id"], arrivals["labelled_at"].astype(float), strict=True))
    truth: dict[str, str] = {}
    if "typology" in labels:
        typed = labels.dropna(subset=["typology"])
        truth = dict(zip(typed["tx_id"], typed["typology"].astype(str), strict=True))
    rows = (Row(tx, label_at.get(tx.tx_id), truth.get(tx.tx_id)) for tx in transactions)
    return featurise_rows(rows, config, total=total, progress=progress, has_typology="typology" in labels)


def featurise_rows(
    rows: Iterable[Row],
    config: FeatureConfig | None = None,
    total: int | None = None,
    progress: bool = True,
    has_typology: bool = True,
) -> History:
    """Run the feature engine over ``rows`` (time order); each label is learned from its arrival time.

    A label is known from the row that carries it, so rows can be read as a stream: it waits
    in a heap until the first transaction at or after its arrival time, and is learned then.
    """
    config = config or FeatureConfig()
    store = MemoryStore()
    engine = FeatureEngine(store, config)
    pending: list[tuple[float, int, str]] = []  # (arrival, row, receiver) of labels not arrived yet
    unfilled = list(OPTIONAL_FIELDS)  # fields no row has filled so far
    names: dict[str, str] = {}  # one string object per address, however many rows name it
    intern = names.setdefault

    x_parts: list[np.ndarray] = []  # one array per chunk: memory stays near the size of the result
    step_parts: list[np.ndarray] = []
    # the frame's columns, one list each (a tuple per row would cost more memory and time)
    ids: list[str] = []
    times: list[float] = []
    senders: list[str] = []
    receivers: list[str] = []
    accounts: list[str] = []
    amounts: list[float] = []
    label_times: list[float] = []
    truths: list[str | None] = []
    buffer: list[Row] = []

    def flush() -> None:
        if not buffer:
            return
        bar.update(len(buffer))
        features = engine.transform([r.tx for r in buffer], sequences=False)
        x_parts.append(np.asarray([f.values for f in features], dtype=np.float32))
        step_parts.append(np.asarray([f.step for f in features], dtype=np.float32))
        for r in buffer:
            tx = r.tx
            ids.append(tx.tx_id)
            times.append(tx.event_time.timestamp())
            senders.append(intern(tx.sender_address, tx.sender_address))
            receivers.append(intern(tx.receiver_address, tx.receiver_address))
            accounts.append(intern(tx.sender_account_id, tx.sender_account_id))
            amounts.append(tx.amount_usd)
            label_times.append(r.label_at if r.label_at is not None else np.nan)
            truths.append(r.truth)
        buffer.clear()

    bar = tqdm(
        total=total, unit="tx", desc="features", disable=not progress, mininterval=1.0, file=sys.stderr
    )
    # The pass makes millions of small lists (the engine's events) and frees them by reference
    # counting; none is in a cycle, so the cyclic collector, which would rescan all of them again
    # and again as they pile up, only costs time (a third of the pass on 2M rows).
    with bar, _no_cyclic_gc():
        for r in rows:
            tx = r.tx
            t = tx.event_time.timestamp()
            if pending and pending[0][0] <= t:
                flush()
                marks = []
                while pending and pending[0][0] <= t:
                    arrival, _, receiver = heapq.heappop(pending)
                    marks.append((receiver, arrival))
                engine.learn_labels(marks)
            if r.label_at is not None:
                heapq.heappush(pending, (r.label_at, len(ids) + len(buffer), tx.receiver_address))
            if unfilled:
                unfilled = [name for name in unfilled if getattr(tx, name) is None]
            buffer.append(r)
            if len(buffer) >= CHUNK:
                flush()
        flush()
        store.states.clear()  # the engine's state, freed before the frame is built

    frame = pd.DataFrame(
        {
            "tx_id": ids,
            "time": np.asarray(times, dtype=np.float64),
            "sender": senders,
            "receiver": receivers,
            "account": accounts,
            "amount_usd": np.asarray(amounts, dtype=np.float64),
            "label_time": np.asarray(label_times, dtype=np.float64),
            "typology": truths,
        }
    )
    return History(
        x=np.vstack(x_parts) if x_parts else np.zeros((0, len(FEATURES)), dtype=np.float32),
        steps=np.vstack(step_parts) if step_parts else np.zeros((0, len(STEP_FEATURES)), dtype=np.float32),
        previous=previous_rows(frame["sender"].to_numpy(), config.sequence_length - 1),
        frame=frame,
        missing_fields=tuple(unfilled),
        has_typology=has_typology,
    )


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def previous_rows(senders: np.ndarray, depth: int) -> np.ndarray:
    """(n, depth) int32: each row's sender's previous ``depth`` rows, oldest first, -1 before its first.

    >>> previous_rows(np.array(["a", "b", "a", "a", "b"], dtype=object), 2).tolist()
    [[-1, -1], [-1, -1], [-1, 0], [0, 2], [-1, 1]]
    """
    n = len(senders)
    out = np.full((n, depth), -1, dtype=np.int32)
    if n == 0 or depth == 0:
        return out
    codes, _ = pd.factorize(senders)
    order = np.argsort(codes, kind="stable")  # each sender's rows together, in row order
    grouped = codes[order]
    starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]])
    position = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))  # within the sender's rows
    for back in range(1, depth + 1):
        has = np.flatnonzero(position >= back)
        out[order[has], depth - back] = order[has - back]
    return out


def load_history(folder: str | Path, config: FeatureConfig | None = None, progress: bool = True) -> History:
    """Featurise a dataset directory written by ``python -m simulator offline`` (or a replay ``--out``)."""
    folder = Path(folder)
    published = read_table(folder, LABELS).to_pandas()
    labels = pd.DataFrame(
        {
            "tx_id": published["tx_id"],
            "labelled_at": published["labelled_at"].map(lambda t: t.timestamp()).astype(float),
        }
    )
    labels = labels[published["is_fraud"].to_numpy()]
    truth_path = folder / TRUTH
    if truth_path.exists():
        truth = read_table(folder, TRUTH).to_pandas()
        labels = truth.merge(labels, on="tx_id", how="outer")
    total = _count(folder)
    return featurise(iter_transactions(folder), labels, config, total=total, progress=progress)


def load_mapped_history(
    path: str | Path,
    mapping: ColumnMapping,
    label_delay_hours: float,
    config: FeatureConfig | None = None,
    progress: bool = True,
    what: str = "training",
) -> History:
    """Featurise a user's CSV or Parquet file read through ``mapping``, in event-time order.

    Each fraud label arrives at its mapped label time, or ``label_delay_hours`` after its
    transaction. Every row must fit the mapping: the first bad rows raise a
    :class:`~fraudcore.mapping.MappingError` naming their columns. A mapping without a label
    column is refused (such a file can be replayed and scored, not trained on).
    """
    path = Path(path)
    if mapping.label is None:
        raise MappingError(
            f"the mapping names no label column, so {path.name} cannot be used for {what}: map one "
            "(label=COLUMN, 1 for fraud, 0 otherwise); without labels the file can still be replayed "
            "and scored live (python -m simulator replay FILE --mapping MAP)"
        )
    delay = label_delay_hours * 3600.0

    def rows() -> Iterator[Row]:
        for good, bad in map_file(path, mapping, in_time_order=True):
            if bad:
                raise MappingError(rejects_message(path, bad, what))
            for m in good:
                if not m.is_fraud:
                    yield Row(m.tx)
                    continue
                arrival = m.label_time.timestamp() if m.label_time else m.tx.event_time.timestamp() + delay
                yield Row(m.tx, arrival, m.typology or "fraud")

    total = count_rows(path) if progress else None
    history = featurise_rows(
        rows(), config, total=total, progress=progress, has_typology=bool(mapping.typology)
    )
    # a field the mapping does not name is never filled, so featurise_rows found it missing already
    return history


def _count(folder: Path) -> int:
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(folder / "transactions.parquet").metadata.num_rows)


def batched(items: np.ndarray, size: int) -> Iterator[np.ndarray]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
