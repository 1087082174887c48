"""The one interface every fraud model follows, and the inputs they share.

Both models see the same :class:`Inputs`: the aggregate features (XGBoost's) and the
sender sequences (the LSTM's); each uses what it needs. A model fits on weighted rows,
predicts probabilities for many rows at once (never one by one), and saves to / loads
from a folder in its library's own format (no pickles).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from fraudcore.features import TxFeatures


@dataclass(frozen=True)
class Inputs:
    """Rows to score: ``x`` is (n, features); ``sequences(rows)`` gives (len(rows), steps, step features)."""

    x: np.ndarray
    sequences: Callable[[np.ndarray], np.ndarray]

    def __len__(self) -> int:
        return len(self.x)

    @classmethod
    def of(cls, x: np.ndarray, sequences: np.ndarray) -> Inputs:
        """Inputs held in memory whole (scoring a batch)."""
        return cls(np.asarray(x, dtype=np.float32), lambda rows: sequences[rows])

    @classmethod
    def of_features(cls, features: Sequence[TxFeatures], steps: int) -> Inputs:
        """A batch from the engine: its values, and sequences cut to ``steps``, zero-padded in front."""
        x = np.asarray([f.values for f in features], dtype=np.float32)
        width = len(features[0].step) if features else 0
        sequences = np.zeros((len(features), steps, width), dtype=np.float32)
        for i, f in enumerate(features):
            kept = f.sequence[-steps:]
            if kept:
                sequences[i, steps - len(kept) :] = kept
        return cls.of(x, sequences)


class FraudModel(Protocol):
    name: str

    def fit(
        self,
        train: Inputs,
        y: np.ndarray,
        weight: np.ndarray,
        valid: Inputs | None,
        y_valid: np.ndarray | None,
    ) -> None: ...

    def predict_proba(self, inputs: Inputs) -> np.ndarray: ...

    def save(self, folder: Path) -> None: ...


def balanced_weights(y: np.ndarray, cap: float = 200.0) -> np.ndarray:
    """Weights that give both classes the same total, as class imbalance asks (no oversampling).

    >>> balanced_weights(np.array([0, 0, 0, 1])).tolist()
    [1.0, 1.0, 1.0, 3.0]
    """
    positives = float(y.sum())
    if positives == 0:
        return np.ones(len(y), dtype=np.float32)
    ratio = min((len(y) - positives) / positives, cap)
    return np.where(y == 1, ratio, 1.0).astype(np.float32)
