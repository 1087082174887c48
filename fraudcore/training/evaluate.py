"""Time-aware (prequential) evaluation: train on the past, skip the label delay, test on what follows.

Each fold trains on every transaction before ``train_end`` with the labels that had
arrived by ``train_end + gap``, and tests on ``[train_end + gap, train_end + gap + test)``
against the full ground truth (labelled or not). Folds walk forward in time. The report
gives, for XGBoost, the LSTM and their combination: average precision, ROC AUC, recall at
1 % false positives, precision and recall at the alert threshold, and recall per typology.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fraudcore.logging import get_logger
from fraudcore.training.history import History
from fraudcore.training.train import TrainConfig, fit, inputs_for, metrics, training_rows

log = get_logger("evaluation")
MODELS = ("xgboost", "lstm", "combined")
HOUR = 3600.0


@dataclass(frozen=True)
class Protocol:
    folds: int = 3
    test_days: float = 7.0
    gap_hours: float = 24.0


def evaluate(history: History, protocol: Protocol, config: TrainConfig) -> dict[str, Any]:
    """Run the folds; returns the report (pooled over folds, and per fold)."""
    times = history.times
    start, end = float(times.min()), float(times.max())
    test_s, gap_s = protocol.test_days * 86400, protocol.gap_hours * HOUR
    folds: list[dict[str, Any]] = []
    pooled: dict[str, list[np.ndarray]] = {
        m: [] for m in (*MODELS, "y", "flag_xgboost", "flag_lstm", "flag_combined")
    }
    pooled_typology: list[np.ndarray] = []
    for k in reversed(range(protocol.folds)):
        test_end = end - k * test_s
        test_start = test_end - test_s
        train_end = test_start - gap_s
        rows = training_rows(history, start + config.warmup_hours * HOUR, train_end)
        test = training_rows(history, test_start, test_end + 1)
        log.info("fold", train_rows=len(rows), test_rows=len(test))
        fitted = fit(history, rows, known_at=test_start, config=config)
        scores = fitted.scores(inputs_for(history, test))
        y = history.truth[test]
        typology = history.frame["typology"].to_numpy()[test]
        fold = {
            "train": {"from": start + config.warmup_hours * HOUR, "to": train_end, "rows": len(rows)},
            "test": {"from": test_start, "to": test_end, "rows": len(test), "fraud": int(y.sum())},
            "xgb_weight": fitted.xgb_weight,
            "models": {m: metrics(y, scores[m], fitted.thresholds[m]) for m in MODELS},
        }
        folds.append(fold)
        pooled["y"].append(y)
        pooled_typology.append(typology)
        for m in MODELS:
            pooled[m].append(scores[m])
            pooled["flag_" + m].append(scores[m] >= fitted.thresholds[m])

    y = np.concatenate(pooled["y"])
    typology = np.concatenate(pooled_typology)
    report: dict[str, Any] = {"protocol": protocol.__dict__, "config": config.__dict__, "models": {}}
    for m in MODELS:
        s, flags = np.concatenate(pooled[m]), np.concatenate(pooled["flag_" + m])
        summary: dict[str, Any] = dict(metrics(y, s, np.inf))
        summary.update(
            precision_at_threshold=round(float(y[flags].mean()) if flags.any() else 0.0, 4),
            recall_at_threshold=round(float(y[flags].sum() / max(y.sum(), 1)), 4),
            alert_rate=round(float(flags.mean()), 4),
        )
        summary.pop("threshold")
        summary["recall_per_typology"] = {
            str(t): round(float(flags[typology == t].mean()), 4)
            for t in sorted({t for t in typology if isinstance(t, str)})
        }
        report["models"][m] = summary
    report["lstm_adds_per_typology"] = {
        t: round(report["models"]["combined"]["recall_per_typology"][t] - r, 4)
        for t, r in report["models"]["xgboost"]["recall_per_typology"].items()
    }
    report["folds"] = folds
    report["mean_over_folds"] = fold_means(folds)
    report["_curves"] = {m: (y, np.concatenate(pooled[m])) for m in MODELS}
    return report


def fold_means(folds: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Each model's metrics averaged over the folds (each fold has its own threshold and calibration)."""
    keys = (
        "average_precision",
        "roc_auc",
        "recall_at_1pct_fpr",
        "precision_at_threshold",
        "recall_at_threshold",
    )
    return {
        m: {k: round(float(np.mean([f["models"][m][k] for f in folds])), 4) for k in keys}
        for m in folds[0]["models"]
    }


def write_report(report: dict[str, Any], folder: Path) -> tuple[Path, Path]:
    """``evaluation.json`` and ``pr_curves.png`` (precision-recall, pooled over the folds)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import precision_recall_curve

    folder.mkdir(parents=True, exist_ok=True)
    curves = report.pop("_curves")
    json_path = folder / "evaluation.json"
    json_path.write_text(json.dumps(report, indent=2) + "\n")
    figure, axis = plt.subplots(figsize=(7, 5), dpi=110)
    for m in MODELS:
        y, s = curves[m]
        precision, recall, _ = precision_recall_curve(y, s)
        ap = report["models"][m]["average_precision"]
        axis.plot(recall, precision, label=f"{m} (AP {ap:.3f})")
    axis.set_xlabel("recall")
    axis.set_ylabel("precision")
    axis.set_ylim(0, 1.02)
    axis.set_xlim(0, 1.0)
    axis.grid(alpha=0.3)
    folds = report["protocol"]["folds"]
    axis.set_title(f"Precision-recall on held-out weeks ({folds} prequential folds, pooled)")
    axis.legend(loc="lower left")
    png_path = folder / "pr_curves.png"
    figure.tight_layout()
    figure.savefig(png_path)
    plt.close(figure)
    return json_path, png_path
