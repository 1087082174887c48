"""An LSTM over the sender's last N transactions, saved as a ``.keras`` file.

TensorFlow is imported when a model is built or loaded, not when this module is, so the
services that never score start fast.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from fraudcore.models.base import Inputs

FILE = "lstm.keras"
BATCH = 4096
_STARTED_WITH: list[int] = []  # the intra-op threads TensorFlow was started with: fixed once it runs


def _tf(threads: int = 2) -> Any:
    """TensorFlow, started with ``threads`` intra-op threads by whoever asks first (training: 2)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    if not _STARTED_WITH:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        _STARTED_WITH.append(threads)
    return tf


class SequenceModel:
    """LSTM(32) over (steps, step features), normalised inside the model, then a small dense head."""

    name = "lstm"

    def __init__(
        self,
        model: Any = None,
        epochs: int = 5,
        max_rows: int = 200_000,
        seed: int = 7,
        progress: bool = False,
    ) -> None:
        self.model = model
        self.progress = progress
        self.epochs = epochs
        self.max_rows = max_rows
        self.seed = seed
        self._predict: Any = None

    def _build(self, steps: int, width: int, sample: np.ndarray) -> Any:
        tf = _tf()
        tf.keras.utils.set_random_seed(self.seed)
        layers = tf.keras.layers
        norm = layers.Normalization(axis=-1)
        norm.adapt(sample.reshape(-1, width))
        inputs = tf.keras.Input(shape=(steps, width), name="steps")
        hidden = layers.LSTM(32)(norm(inputs))
        hidden = layers.Dense(16, activation="relu")(hidden)
        outputs = layers.Dense(1, activation="sigmoid")(hidden)
        model = tf.keras.Model(inputs, outputs, name="sender_sequence")
        model.compile(optimizer=tf.keras.optimizers.Adam(2e-3), loss="binary_crossentropy")
        return model

    def fit(
        self,
        train: Inputs,
        y: np.ndarray,
        weight: np.ndarray,
        valid: Inputs | None,
        y_valid: np.ndarray | None,
    ) -> None:
        """Trains on every fraud row and a sample of the rest (reweighted, so the balance is kept).

        A model given to the constructor is trained further (fine-tuned) rather than replaced."""
        rng = np.random.default_rng(self.seed)
        rows = np.arange(len(train))
        positives, negatives = rows[y == 1], rows[y == 0]
        keep = min(len(negatives), max(self.max_rows - len(positives), 1))
        sampled = np.sort(np.concatenate([positives, rng.choice(negatives, keep, replace=False)]))
        w = weight[sampled].astype(np.float32)
        w[y[sampled] == 0] *= len(negatives) / keep
        w *= len(w) / w.sum()  # mean 1, for a steady learning rate
        x = train.sequences(sampled)
        if self.model is None:
            self.model = self._build(x.shape[1], x.shape[2], x[rng.choice(len(x), min(len(x), 20_000))])
        else:  # fine-tuning a trained model: its normalisation stays, a gentler learning rate
            tf = _tf()
            self.model.compile(optimizer=tf.keras.optimizers.Adam(5e-4), loss="binary_crossentropy")
        self.model.fit(
            x,
            y[sampled].astype(np.float32),
            sample_weight=w,
            epochs=self.epochs,
            batch_size=512,
            shuffle=True,
            verbose=0,
            callbacks=[_epochs_bar(self.epochs)] if self.progress else None,
        )
        self._predict = None

    def predict_proba(self, inputs: Inputs) -> np.ndarray:
        rows = np.arange(len(inputs))
        if len(rows) == 0:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(
            [self.predict_sequences(inputs.sequences(part)) for part in _parts(rows, BATCH)]
        )

    def predict_sequences(self, sequences: np.ndarray) -> np.ndarray:
        """Probabilities for (n, steps, width) sequences, through a compiled ``tf.function``."""
        tf = _tf()
        if self._predict is None:
            model = self.model

            @tf.function(reduce_retracing=True)  # type: ignore[untyped-decorator]
            def predict(x: Any) -> Any:
                return model(x, training=False)

            self._predict = predict
        return np.asarray(self._predict(tf.convert_to_tensor(sequences, dtype=tf.float32))).reshape(-1)

    def save(self, folder: Path) -> None:
        self.model.save(folder / FILE)

    @classmethod
    def load(cls, folder: Path, threads: int = 2) -> SequenceModel:
        """``threads``: TensorFlow's intra-op threads, if this is the process's first use of it."""
        tf = _tf(threads)
        return cls(tf.keras.models.load_model(folder / FILE, compile=False))


def _epochs_bar(epochs: int) -> Any:
    """A Keras callback: a progress bar over epochs."""
    from tqdm import tqdm

    tf = _tf()

    class Epochs(tf.keras.callbacks.Callback):  # type: ignore[misc,name-defined]
        def on_train_begin(self, logs: Any = None) -> None:
            self.bar = tqdm(total=epochs, desc="lstm", unit="epoch", file=sys.stderr)

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            self.bar.update(1)

        def on_train_end(self, logs: Any = None) -> None:
            self.bar.close()

    return Epochs()


def _parts(rows: np.ndarray, size: int) -> list[np.ndarray]:
    return [rows[i : i + size] for i in range(0, len(rows), size)]
