"""The one interface every fraud model follows, and the inputs they share.

Both models see the same :class:`Inputs`: the aggregate features (XGBoost's) and the
sender sequences (the LSTM's); each uses what it needs. A model fits on weighted rows,
predicts probabilities for many rows at once (never one by one), and saves to / loads
from a folder in its library's own format (no pickles).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from fraudcore.features import FEATURES, STEP_FEATURES, TxFeatures, unavailable
from fraudcore.features.state import ROW_DTYPE, padded_rows


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
        """A batch from the engine: its values, and sequences cut to ``steps``, zero-padded in front.

        The engine's sequences are float32 rows already (:func:`~fraudcore.features.state.pack_rows`):
        the batch's is one buffer of them, read in place.
        """
        x = np.asarray([f.values for f in features], dtype=np.float32)
        width = len(features[0].step) if features else 0
        packed = b"".join([padded_rows(f.sequence, steps, width) for f in features])
        sequences = np.frombuffer(packed, dtype=ROW_DTYPE).reshape(len(features), steps, width)
        return cls.of(x, sequences.astype(np.float32, copy=False))  # native order: no copy


@dataclass(frozen=True)
class Columns:
    """The features a model version uses: all the engine computes, less those whose input field is missing.

    The engine always computes every feature (NaN where a field is missing); a version records
    the ones it was trained on, and :meth:`select` hands it those columns only, so a model never
    learns from a feature its data could not fill.

    >>> cols = Columns.without(["device_id"])
    >>> "new_device" in cols.features, "new_device" in cols.steps, cols.unavailable
    (False, False, ('new_device', 'hours_since_new_access'))
    >>> x = np.arange(2 * len(FEATURES), dtype=np.float32).reshape(2, -1)
    >>> cols.select(Inputs.of(x, np.zeros((2, 3, len(STEP_FEATURES))))).x.shape
    (2, 32)
    """

    features: tuple[str, ...] = FEATURES
    steps: tuple[str, ...] = STEP_FEATURES

    def __post_init__(self) -> None:
        for names, known in ((self.features, FEATURES), (self.steps, STEP_FEATURES)):
            if [n for n in known if n in names] != list(names):
                raise ValueError(f"not a subset of the engine's features, in its order: {list(names)}")

    @classmethod
    def without(cls, missing_fields: Iterable[str]) -> Columns:
        gone = unavailable(missing_fields)
        return cls(
            tuple(f for f in FEATURES if f not in gone), tuple(s for s in STEP_FEATURES if s not in gone)
        )

    @property
    def complete(self) -> bool:
        return self.features == FEATURES and self.steps == STEP_FEATURES

    @property
    def unavailable(self) -> tuple[str, ...]:
        """The engine's features this version does without."""
        return tuple(f for f in FEATURES if f not in self.features)

    @property
    def feature_index(self) -> np.ndarray:
        return np.asarray([FEATURES.index(f) for f in self.features], dtype=np.intp)

    @property
    def step_index(self) -> np.ndarray:
        return np.asarray([STEP_FEATURES.index(s) for s in self.steps], dtype=np.intp)

    def select(self, inputs: Inputs) -> Inputs:
        """``inputs`` as the engine computes them (every column) cut to this version's columns."""
        if self.complete:
            return inputs
        x_index, step_index = self.feature_index, self.step_index
        sequences = inputs.sequences
        return Inputs(inputs.x[:, x_index], lambda rows: sequences(rows)[:, :, step_index])


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
