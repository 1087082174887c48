"""One retraining run: pull, featurise, train a candidate, compare it with the champion, decide.

1. pull the scored transactions of the window and the labels that had arrived by the cut-off
   (:mod:`retrainer.data`), and featurise them with the feature engine the scorer uses;
2. split by time: the newest ``RETRAIN__HOLDOUT_FRACTION`` is held out; the candidate trains on
   the rest (XGBoost afresh; the LSTM fine-tuned from the champion's, or afresh);
3. score the held-out period with the champion (the newest approved version) and the candidate;
4. **promote** the candidate (write it as the newest approved version, which the scoring
   consumer switches to by itself) only if it is no worse than the champion on
   ``RETRAIN__METRIC`` beyond ``RETRAIN__TOLERANCE`` and passes the sanity checks (its scores
   are finite and spread out, its alert rate on the held-out period is within 5x of the
   target); otherwise it is written as a **rejected** version, with the reason.

Too little data (fewer than ``RETRAIN__MIN_LABELS`` fraud labels on either side of the split)
skips the run with the reason. Every run is recorded (:mod:`fraudcore.training.runs`); a crash
is recorded as failed, and leaves no half-written version (versions are written atomically).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np

from fraudcore.features import FeatureConfig
from fraudcore.logging import get_logger
from fraudcore.models.base import Inputs
from fraudcore.models.lstm import SequenceModel
from fraudcore.models.registry import ModelError, ModelVersion, latest_approved, load_version, write_version
from fraudcore.settings import Settings
from fraudcore.training import runs
from fraudcore.training.history import History, featurise
from fraudcore.training.pipeline import train_config, version_manifest
from fraudcore.training.runs import ModelScore, RunRecord
from fraudcore.training.train import Fitted, TrainConfig, fit, inputs_for, metrics
from retrainer.data import load_labelled

log = get_logger("retrainer")
MIN_ROWS = 1000
ALERT_RATE_SPAN = 5.0

FitFn = Callable[[History, np.ndarray, float, TrainConfig, SequenceModel | None], Fitted]


class Skip(Exception):
    """Not enough to learn from: the run ends as skipped, with this reason."""


def retrain(
    settings: Settings,
    db: Any,
    record: RunRecord,
    fit_fn: FitFn = fit,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> RunRecord:
    """Run ``record`` to its end and save it at each step; never raises (a failure is recorded)."""
    started = time.perf_counter()
    record.status, record.started_at = "running", clock()
    record.metric = settings.retrain.metric
    runs.save(db, record)
    try:
        _run(settings, db, record, fit_fn, clock)
    except Skip as skip:
        record.status, record.reason = "skipped", str(skip)
    except Exception as exc:  # recorded, logged; the service goes on
        record.status, record.reason = "failed", f"{type(exc).__name__}: {exc}"[:1000]
        log.exception("retraining run failed", run=record.id)
    record.finished_at = clock()
    record.seconds = round(time.perf_counter() - started, 1)
    runs.save(db, record)
    log.info(
        "retraining run finished",
        run=record.id,
        status=record.status,
        reason=record.reason,
        candidate=record.candidate.version if record.candidate else None,
        seconds=record.seconds,
    )
    return record


def _run(
    settings: Settings, db: Any, record: RunRecord, fit_fn: FitFn, clock: Callable[[], datetime]
) -> None:
    r = settings.retrain
    cutoff = clock()
    data = load_labelled(db, cutoff, r.window_hours, r.max_rows)
    record.window = data.window
    runs.save(db, record)
    if len(data.transactions) < MIN_ROWS:
        raise Skip(
            f"only {len(data.transactions)} transactions scored in the last {r.window_hours:g} h "
            f"(at least {MIN_ROWS} needed)"
        )
    history = featurise(
        data.transactions, data.labels, FeatureConfig.from_settings(settings), len(data.transactions), False
    )
    n = len(history)
    split = int(n * (1 - r.holdout_fraction))
    train_rows, test_rows = np.arange(split), np.arange(split, n)
    known_at = float(history.times.max()) + 1.0
    y = history.labelled_by(known_at)
    in_train, in_test = int(y[train_rows].sum()), int(y[test_rows].sum())
    record.window.update({"train_rows": len(train_rows), "holdout_rows": len(test_rows)})
    record.window.update({"train_fraud": in_train, "holdout_fraud": in_test})
    if in_train < r.min_labels or in_test < max(3, r.min_labels // 4):
        raise Skip(
            f"too few fraud labels: {in_train} for training and {in_test} in the held-out period "
            f"(RETRAIN__MIN_LABELS = {r.min_labels}; a quarter of it, at least 3, held out)"
        )
    if in_train == len(train_rows) or in_test == len(test_rows):
        raise Skip("every labelled transaction is fraud: a single class cannot be learned from")

    test_in = inputs_for(history, test_rows)  # the features this data can fill: the candidate's
    every_feature = Inputs(history.x[test_rows], lambda part: history.sequences(test_rows[part]))
    y_test = y[test_rows]
    champion = _champion(settings)
    if champion is not None:
        champion_scores = champion.score(every_feature)[0]  # a version picks its own columns
        record.champion = ModelScore(
            version=champion.name, metrics=metrics(y_test, champion_scores, champion.threshold)
        )
    else:
        record.champion = ModelScore(version=None, metrics={})
    runs.save(db, record)

    config = train_config(settings)
    lstm = None
    columns = history.columns
    same_steps = champion is not None and tuple(champion.columns.steps) == tuple(columns.steps)
    if r.lstm == "fine_tune" and champion is not None and same_steps:
        lstm = SequenceModel(model=champion.lstm.model, epochs=r.fine_tune_epochs, max_rows=config.lstm_rows)
    fitted = fit_fn(history, train_rows, known_at, config, lstm)
    candidate_scores = fitted.scores(test_in)["combined"]
    candidate = metrics(y_test, candidate_scores, fitted.thresholds["combined"])
    approved, reason = decide(settings, candidate, candidate_scores, record.champion)

    manifest = version_manifest(
        approved=approved,
        approval=reason,
        fitted=fitted,
        history=history,
        features=FeatureConfig.from_settings(settings),
        config=config,
        training_window={**record.window, "source": "mongodb", "run": record.id},
        holdout={"candidate": candidate, "champion": record.champion.model_dump()},
        lstm="fine-tuned from " + champion.name if lstm is not None and champion else "trained afresh",
    )
    name = write_version(settings.models.dir, fitted.xgb, fitted.lstm, manifest, fitted.validation)
    record.candidate = ModelScore(version=name, metrics=candidate)
    record.status, record.reason = ("promoted" if approved else "rejected"), reason


def _champion(settings: Settings) -> ModelVersion | None:
    name = latest_approved(settings.models.dir)
    if name is None:
        return None
    try:
        return load_version(settings.models.dir, name)
    except ModelError as exc:
        log.warning("the champion does not load; the candidate is judged on its own", error=str(exc))
        return None


def decide(
    settings: Settings, candidate: dict[str, Any], scores: np.ndarray, champion: ModelScore | None
) -> tuple[bool, str]:
    """Whether the candidate may replace the champion, and why (the gate of the module doc)."""
    r, metric = settings.retrain, settings.retrain.metric
    target = settings.models.target_alert_rate
    if not np.all(np.isfinite(scores)) or float(np.std(scores)) < 1e-6:
        return False, "sanity check failed: its scores are not finite or do not vary"
    rate = candidate["alert_rate"]
    if not target / ALERT_RATE_SPAN <= rate <= target * ALERT_RATE_SPAN:
        return False, (
            f"sanity check failed: it flags {rate:.2%} of the held-out period, "
            f"outside {target / ALERT_RATE_SPAN:.2%}-{target * ALERT_RATE_SPAN:.2%} (target {target:.2%})"
        )
    mine = float(candidate[metric])
    if champion is None or champion.version is None or not champion.metrics:
        floor = settings.models.min_average_precision if metric == "average_precision" else 0.0
        ok = mine >= floor
        return (
            ok,
            f"no champion to compare with; {metric} {mine:.3f} {'>=' if ok else '<'} the minimum {floor}",
        )
    theirs = float(champion.metrics[metric])
    ok = bool(mine >= theirs - r.tolerance)
    verdict = "no worse than" if ok else "worse than"
    return ok, (
        f"{metric} {mine:.3f} on the held-out period, {verdict} the champion {champion.version}'s "
        f"{theirs:.3f} (tolerance {r.tolerance})"
    )
