"""An LSTM over the sender's last N transactions, saved as a ``.keras`` file.

TensorFlow is imported when a model is built or loaded, not when this module is, so the
services that never score start fast.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from fraudcore.logging import get_logger
from fraudcore.models.base import Inputs

log = get_logger("models")

FILE = "lstm.keras"
BATCH = 4096
# The row counts a batch is padded up to for XLA, which compiles a program for each input shape
# (~0.4 s of CPU each): a few fixed sizes, each about a quarter above the one before (16, 24, 32,
# 40, 56, 64, 88, ... 3256, 4096: 24 in all).
SIZES = sorted({min(BATCH, -(-round(16 * 2 ** (i / 3)) // 8) * 8) for i in range(25)})
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
        self._predict: Any = None  # the model as a tf.function on TensorFlow's kernels
        self._compiled: Any = None  # the model as a tf.function compiled by XLA
        self._ready: set[int] = set()  # the SIZES that XLA has compiled it for
        self._compiling: tuple[threading.Thread, threading.Event] | None = None

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
        self._predict = self._compiled = None
        self._ready = set()

    def predict_proba(self, inputs: Inputs) -> np.ndarray:
        rows = np.arange(len(inputs))
        if len(rows) == 0:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(
            [self.predict_sequences(inputs.sequences(part)) for part in _parts(rows, BATCH)]
        )

    def predict_sequences(self, sequences: np.ndarray) -> np.ndarray:
        """Probabilities for (n, steps, width) sequences, n at most ``BATCH``.

        Once :meth:`start_compiling` has compiled the model for the size of :data:`SIZES` that
        fits n, the rows are padded with zeros up to it (each row's result does not depend on
        the others) and run by XLA; before that, and without it, by TensorFlow's kernels.
        Compiled, the LSTM costs about half the CPU a row (measured, one thread: 11.9 -> 6.1 µs
        at 400 rows, 14.8 -> 8.1 at 200), with the same probabilities to within float32
        rounding (3e-7).
        """
        tf = _tf()
        n = len(sequences)
        size = next((s for s in SIZES if s >= n), 0)
        if size in self._ready:
            padded = np.zeros((size, *sequences.shape[1:]), dtype=np.float32)
            padded[:n] = sequences
            return np.asarray(self._compiled(tf.convert_to_tensor(padded))).reshape(-1)[:n]
        if self._predict is None:
            self._predict = self._function(jit_compile=False)
        return np.asarray(self._predict(tf.convert_to_tensor(sequences, dtype=tf.float32))).reshape(-1)

    def start_compiling(self) -> threading.Thread:
        """Compile the model with XLA for every size of :data:`SIZES`, on a background thread.

        ~0.4 s of CPU a size (10 s in all, once a version is loaded for scoring); batches are
        scored meanwhile on TensorFlow's kernels, so nothing waits for it. Logs when done.

        The thread is not a daemon: a process that exits while XLA compiles can crash in the
        interpreter's teardown (SIGSEGV, seen when the scoring consumer was stopped seconds
        after it started), so exiting waits for it. :meth:`stop_compiling` makes that wait
        one size at most.
        """
        self.stop_compiling()
        stop = threading.Event()
        thread = threading.Thread(target=self._compile_all, args=(stop,), name="lstm-xla")
        self._compiling = (thread, stop)
        thread.start()
        return thread

    def stop_compiling(self, wait: bool = True, timeout_s: float = 60.0) -> None:
        """Stop compiling after the size in progress (and wait for that, unless ``wait`` is False).

        The sizes already compiled stay in use.
        """
        if self._compiling is None:
            return
        thread, stop = self._compiling
        stop.set()
        if wait:
            thread.join(timeout_s)
        self._compiling = None

    def _compile_all(self, stop: threading.Event) -> None:
        tf = _tf()
        started = time.perf_counter()
        _, steps, width = self.model.input_shape
        # this function's sizes: a fit() meanwhile starts afresh, and they are not taken for the new model's
        ready: set[int] = set()
        try:
            compiled = self._compiled = self._function(jit_compile=True)
            self._ready = ready
            for size in SIZES:
                if stop.is_set():
                    log.info("LSTM compiling stopped", sizes=len(ready), of=len(SIZES))
                    return
                compiled(tf.zeros((size, steps, width), dtype=tf.float32))
                ready.add(size)
        except Exception as exc:  # the kernels still score: slower, not wrong
            log.warning(
                "the LSTM could not be compiled by XLA; it runs on TensorFlow's kernels",
                error=f"{type(exc).__name__}: {exc}"[:300],
            )
            return
        log.info("LSTM compiled by XLA", sizes=len(SIZES), seconds=round(time.perf_counter() - started, 1))

    def _function(self, jit_compile: bool) -> Any:
        tf = _tf()
        model = self.model

        @tf.function(jit_compile=jit_compile, reduce_retracing=True)  # type: ignore[untyped-decorator]
        def predict(x: Any) -> Any:
            return model(x, training=False)

        return predict

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
