"""A history (transactions plus labels with their arrival times) featurised in one causal pass.

Labels are learned by the engine only once they have arrived (``labelled_at`` at or before
the transaction being featurised), exactly as the scorer learns them from the labels topic.
Sequences are not stored per row (1M rows x 20 steps would not fit): each row keeps its own
step vector and the row numbers of its sender's previous transactions, and :meth:`sequences`
rebuilds any rows' sequences on demand, identical to what the engine keeps in its state.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from fraudcore.dataset import LABELS, TRUTH, iter_transactions, read_table
from fraudcore.features import FEATURES, STEP_FEATURES, FeatureConfig, FeatureEngine, MemoryStore
from fraudcore.schemas import Transaction

CHUNK = 2000


@dataclass
class History:
    """Featurised transactions in time order, with what is known of their labels."""

    x: np.ndarray  # (n, len(FEATURES)) float32, NaN where undefined
    steps: np.ndarray  # (n, len(STEP_FEATURES)) float32
    previous: np.ndarray  # (n, sequence_length - 1) int32: the sender's earlier rows, -1 before its first
    frame: (
        pd.DataFrame
    )  # tx_id, time (Unix s), sender, receiver, amount_usd, label_time (NaN: never), typology

    def __len__(self) -> int:
        return len(self.frame)

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
        padded = np.vstack([self.steps, np.zeros((1, self.steps.shape[1]), dtype=np.float32)])
        index = np.where(previous < 0, len(self.steps), previous)
        return np.concatenate([padded[index], self.steps[rows][:, None, :]], axis=1)


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
    config = config or FeatureConfig()
    engine = FeatureEngine(MemoryStore(), config)
    arrivals = labels.dropna(subset=["labelled_at"]).sort_values("labelled_at")
    due_times = arrivals["labelled_at"].to_numpy()
    due_ids = arrivals["tx_id"].to_numpy()
    labelled = set(due_ids)
    receiver_of: dict[str, str] = {}
    next_label = 0
    depth = config.sequence_length - 1

    x_parts: list[np.ndarray] = []  # one array per chunk: memory stays near the size of the result
    step_parts: list[np.ndarray] = []
    previous: list[list[int]] = []
    meta: list[tuple[str, float, str, str, float]] = []
    last_rows: dict[str, list[int]] = {}
    buffer: list[Transaction] = []

    def flush() -> None:
        if not buffer:
            return
        bar.update(len(buffer))
        features = engine.transform(buffer, sequences=False)
        x_parts.append(np.asarray([f.values for f in features], dtype=np.float32))
        step_parts.append(np.asarray([f.step for f in features], dtype=np.float32))
        for tx in buffer:
            row = len(meta)
            history = last_rows.setdefault(tx.sender_address, [])
            previous.append([-1] * (depth - len(history)) + history[-depth:] if depth else [])
            history.append(row)
            if len(history) > depth:
                del history[0]
            meta.append(
                (tx.tx_id, tx.event_time.timestamp(), tx.sender_address, tx.receiver_address, tx.amount_usd)
            )
        buffer.clear()

    bar = tqdm(total=total, unit="tx", desc="features", disable=not progress, mininterval=1.0)
    with bar:
        for tx in transactions:
            t = tx.event_time.timestamp()
            if next_label < len(due_times) and due_times[next_label] <= t:
                flush()
                marks = []
                while next_label < len(due_times) and due_times[next_label] <= t:
                    receiver = receiver_of.pop(due_ids[next_label], None)
                    if receiver is not None:
                        marks.append((receiver, float(due_times[next_label])))
                    next_label += 1
                engine.learn_labels(marks)
            if tx.tx_id in labelled:
                receiver_of[tx.tx_id] = tx.receiver_address
            buffer.append(tx)
            if len(buffer) >= CHUNK:
                flush()
        flush()

    frame = pd.DataFrame(meta, columns=["tx_id", "time", "sender", "receiver", "amount_usd"])
    label_time = dict(zip(arrivals["tx_id"], arrivals["labelled_at"], strict=True))
    frame["label_time"] = frame["tx_id"].map(label_time).astype(float)
    typology = labels.set_index("tx_id")["typology"] if "typology" in labels else pd.Series(dtype=object)
    frame["typology"] = frame["tx_id"].map(typology)
    return History(
        x=np.vstack(x_parts) if x_parts else np.zeros((0, len(FEATURES)), dtype=np.float32),
        steps=np.vstack(step_parts) if step_parts else np.zeros((0, len(STEP_FEATURES)), dtype=np.float32),
        previous=np.asarray(previous, dtype=np.int32).reshape(-1, depth),
        frame=frame,
    )


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


def _count(folder: Path) -> int:
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(folder / "transactions.parquet").metadata.num_rows)


def batched(items: np.ndarray, size: int) -> Iterator[np.ndarray]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
