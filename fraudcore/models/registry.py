"""Model versions on disk: ``models/v0001/``, ``models/v0002/``..., each complete or absent.

A version folder holds ``manifest.json`` (feature schema and its fingerprint, threshold,
ensemble weight, training window, metrics, approval), ``xgb.json`` (XGBoost's own
format) and ``lstm.keras``. It is written under a temporary name and renamed into place,
so a reader never sees half of one. :func:`load_version` refuses a version whose feature
schema is not the one this code computes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from fraudcore.features import FEATURES, STEP_FEATURES, schema_version
from fraudcore.logging import get_logger
from fraudcore.models.base import Columns, Inputs
from fraudcore.models.explain import reasons_many
from fraudcore.models.lstm import SequenceModel
from fraudcore.models.xgb import XGBoostModel

log = get_logger("models")
MANIFEST = "manifest.json"
VERSION = re.compile(r"^v(\d{4,})$")


class ModelError(RuntimeError):
    """A version is missing, incomplete or does not fit this code; the message says what to do."""


@dataclass
class ModelVersion:
    """A loaded version: both models, the way they are combined, and the threshold."""

    name: str
    manifest: dict[str, Any]
    xgb: XGBoostModel
    lstm: SequenceModel

    @property
    def threshold(self) -> float:
        return float(self.manifest["threshold"])

    @property
    def xgb_weight(self) -> float:
        return float(self.manifest["xgb_weight"])

    @cached_property
    def columns(self) -> Columns:
        """The features this version was trained on (all the engine computes, unless its data lacked some)."""
        return Columns(
            tuple(self.manifest.get("features", FEATURES)),
            tuple(self.manifest.get("step_features", STEP_FEATURES)),
        )

    def explain(self, x: np.ndarray, k: int = 3) -> list[list[str]]:
        """Each row's top ``k`` reasons, phrased, from XGBoost's per-feature contributions.

        ``x`` has every feature the engine computes; the version picks its own.
        """
        names = self.columns.features
        if not self.columns.complete:
            x = x[:, self.columns.feature_index]
        pushes = self.xgb.contributions(x)[:, : len(names)]
        return reasons_many(names, x, pushes, k)

    def score(self, inputs: Inputs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(combined, xgboost, lstm) probabilities for every row of ``inputs`` (every engine feature)."""
        inputs = self.columns.select(inputs)
        p_xgb = self.xgb.predict_proba(inputs)
        p_lstm = self.lstm.predict_proba(inputs)
        return combine(p_xgb, p_lstm, self.xgb_weight), p_xgb, p_lstm


def combine(p_xgb: np.ndarray, p_lstm: np.ndarray, xgb_weight: float) -> np.ndarray:
    """The ensemble: a weighted mean of the two models' log-odds, back to a probability.

    >>> combine(np.array([0.9]), np.array([0.5]), 0.5).round(3).tolist()
    [0.75]
    """
    if xgb_weight >= 1.0:
        return np.asarray(p_xgb, dtype=np.float64)
    if xgb_weight <= 0.0:
        return np.asarray(p_lstm, dtype=np.float64)
    log_odds = xgb_weight * _logit(p_xgb) + (1.0 - xgb_weight) * _logit(p_lstm)
    return np.asarray(1.0 / (1.0 + np.exp(-log_odds)))


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(np.asarray(p, dtype=np.float64), 1e-7, 1 - 1e-7)
    return np.asarray(np.log(q / (1 - q)))


def versions(folder: Path) -> list[str]:
    """Complete versions, oldest first."""
    if not folder.is_dir():
        return []
    found = [p.name for p in folder.iterdir() if VERSION.match(p.name) and (p / MANIFEST).is_file()]
    return sorted(found, key=lambda name: int(name[1:]))


def read_manifest(folder: Path, name: str) -> dict[str, Any]:
    try:
        return dict(json.loads((folder / name / MANIFEST).read_text()))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{folder / name}: unreadable manifest ({exc})") from exc


def latest_approved(folder: Path) -> str | None:
    """The newest approved version whose features this code computes, or None."""
    current = schema_version()
    for name in reversed(versions(folder)):
        manifest = read_manifest(folder, name)
        if manifest.get("approved") and manifest.get("feature_schema_version") == current:
            return name
    return None


def load_version(folder: Path, name: str, threads: int = 2) -> ModelVersion:
    """Load ``name`` after checking its feature schema against this code's.

    ``threads``: the CPU threads each model predicts with (TensorFlow's: if it is not running yet).
    """
    path = folder / name
    manifest = read_manifest(folder, name)
    trained_on, current = manifest.get("feature_schema_version"), schema_version()
    if trained_on != current:
        raise ModelError(
            f"{path} was trained on feature schema {trained_on}, this code computes {current}: "
            "train a new version (make models)"
        )
    try:  # every feature, or those its data could fill, in the engine's order
        Columns(tuple(manifest.get("features", [])), tuple(manifest.get("step_features", [])))
    except ValueError:
        raise ModelError(
            f"{path}: its feature list differs from this code's; train a new version (make models)"
        ) from None
    try:
        return ModelVersion(
            name, manifest, XGBoostModel.load(path, threads), SequenceModel.load(path, threads)
        )
    except Exception as exc:  # a damaged file: refuse the version, keep whatever is running
        raise ModelError(f"{path}: cannot load its models ({type(exc).__name__}: {exc})") from exc


def write_version(
    folder: Path, xgb: XGBoostModel, lstm: SequenceModel, manifest: dict[str, Any], metrics: dict[str, Any]
) -> str:
    """Write a new version atomically (temporary folder, then rename); returns its name."""
    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder))
    try:
        xgb.save(staging)
        lstm.save(staging)
        (staging / "metrics.json").write_text(json.dumps(metrics, indent=2, default=_json) + "\n")
        while True:
            existing = versions(folder) + [p.name for p in folder.iterdir() if VERSION.match(p.name)]
            number = max((int(n[1:]) for n in existing), default=0) + 1
            name = f"v{number:04d}"
            full = {
                "version": name,
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "feature_schema_version": schema_version(),
                "features": list(FEATURES),
                "step_features": list(STEP_FEATURES),
                "files": {"xgboost": "xgb.json", "lstm": "lstm.keras", "metrics": "metrics.json"},
                **manifest,
            }
            (staging / MANIFEST).write_text(json.dumps(full, indent=2, default=_json) + "\n")
            os.chmod(staging, 0o755)
            try:
                os.rename(staging, folder / name)  # atomic; fails if another writer took the name
                return name
            except OSError:
                if not (folder / name).exists():
                    raise
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _json(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON: {type(value)}")


class ModelWatcher:
    """Keeps the newest approved version loaded; checks for a newer one at most every ``every_s`` seconds.

    :meth:`current` is called between batches, so a switch never happens inside one. A
    version that fails to load is refused once, logged with the reason, and the running
    one is kept.

    A watcher serves a scoring loop, which scores on the loop's thread: its versions predict
    with one CPU thread each (``threads``), the LSTM compiled by XLA in the background once
    loaded (:meth:`SequenceModel.start_compiling`; off with ``compile_lstm=False``).
    :meth:`close` stops that compiling, so a process can exit without waiting for it. On two
    cores shared with the batch writer and the servers, a second thread mostly spins: scoring
    and explaining a batch of 2,000 took 64 µs of CPU per transaction with two, 36 with one.
    """

    def __init__(
        self, folder: Path, every_s: float = 5.0, threads: int = 1, compile_lstm: bool = True
    ) -> None:
        self.folder = folder
        self.every_s = every_s
        self.threads = threads
        self.compile_lstm = compile_lstm
        self.version: ModelVersion | None = None
        self.refused: dict[str, str] = {}
        self._checked = 0.0

    def current(self) -> ModelVersion | None:
        now = time.monotonic()
        if self.version is None or now - self._checked >= self.every_s:
            self._checked = now
            self._maybe_switch()
        return self.version

    def _maybe_switch(self) -> None:
        newest = self._newest_candidate()
        if newest is None or (self.version is not None and newest == self.version.name):
            return
        try:
            loaded = load_version(self.folder, newest, self.threads)
        except ModelError as exc:
            self.refused[newest] = str(exc)
            log.error(
                "model version refused; keeping the current one",
                version=newest,
                current=self.version.name if self.version else None,
                reason=str(exc),
            )
            return
        previous = self.version.name if self.version else None
        if self.version is not None:
            # it no longer scores: its compiling would only take CPU (not waited for between batches)
            self.version.lstm.stop_compiling(wait=False)
        self.version = loaded
        log.info("model version loaded", version=newest, previous=previous, threshold=loaded.threshold)
        if self.compile_lstm:
            loaded.lstm.start_compiling()  # faster scoring in a few seconds; it scores meanwhile

    def close(self) -> None:
        """Stop the current version's compiling (the process can then exit at once)."""
        if self.version is not None:
            self.version.lstm.stop_compiling()

    def _newest_candidate(self) -> str | None:
        current = schema_version()
        for name in reversed(versions(self.folder)):
            if name in self.refused:
                continue
            if self.version is not None and int(name[1:]) <= int(self.version.name[1:]):
                return self.version.name
            try:
                manifest = read_manifest(self.folder, name)
            except ModelError as exc:
                self.refused[name] = str(exc)
                continue
            if not manifest.get("approved"):
                continue
            if manifest.get("feature_schema_version") != current:
                trained_on = manifest.get("feature_schema_version")
                reason = f"trained on feature schema {trained_on}, this code computes {current}"
                self.refused[name] = reason
                log.error("model version refused; keeping the current one", version=name, reason=reason)
                continue
            return name
        return None
