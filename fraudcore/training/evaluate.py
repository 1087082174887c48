"""Time-aware (prequential) evaluation: train on the past, skip the label delay, test on what follows.

Each fold trains on every transaction before ``train_end`` with the labels that had
arrived by ``train_end + gap``, and tests on ``[train_end + gap, train_end + gap + test)``
against the full ground truth (labelled or not). Folds walk forward in time. The report
gives, for XGBoost, the LSTM and their combination: average precision, ROC AUC, recall at
1 % false positives, precision and recall at the alert threshold, the daily precision of the
top-k alerts counted per sender account, and recall per typology (when the truth names them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fraudcore.logging import get_logger
from fraudcore.training.history import History
from fraudcore.training.train import TrainConfig, fit, inputs_for, metrics, training_rows

log = get_logger("evaluation")
MODELS = ("xgboost", "lstm", "combined")
HOUR, DAY = 3600.0, 86400.0


@dataclass(frozen=True)
class Protocol:
    folds: int = 3
    test_days: float = 7.0
    gap_hours: float = 24.0
    top_k: int = 100  # alerts an analyst team works a day, counted per sender account


def daily_top_k(history: History, test: np.ndarray, scores: np.ndarray, k: int) -> list[dict[str, Any]]:
    """Per test day (UTC): the precision of the ``k`` highest-scoring sender accounts.

    An account scores its highest transaction of the day and counts as a hit when any of its
    transactions that day is fraud. Accounts already confirmed fraudulent (a fraud label on
    one of their transactions had arrived) before the day starts are left out: an analyst
    would not be alerted on them again.
    """
    frame = history.frame
    label_time = frame["label_time"].to_numpy()
    confirmed = frame.loc[~np.isnan(label_time), ["account", "label_time"]]
    day = np.floor(history.times[test] / DAY)
    rows = pd.DataFrame(
        {"day": day, "account": frame["account"].to_numpy()[test], "score": scores, "y": history.truth[test]}
    )
    out = []
    for d, today in rows.groupby("day", sort=True):
        known = set(confirmed.loc[confirmed["label_time"] < d * DAY, "account"])
        accounts = today.groupby("account", sort=False).agg(score=("score", "max"), y=("y", "max"))
        accounts = accounts[~accounts.index.isin(known)]
        top = accounts.nlargest(k, "score")
        out.append(
            {
                "day": _iso(d * DAY)[:10],
                "alerts": len(top),
                "precision": round(float(top["y"].mean()), 4) if len(top) else float("nan"),
                "accounts_left_out": int(today["account"].isin(known).groupby(today["account"]).any().sum()),
            }
        )
    return out


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


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
    days: dict[str, list[dict[str, Any]]] = {m: [] for m in MODELS}
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
        fold: dict[str, Any] = {
            "train": {"from": start + config.warmup_hours * HOUR, "to": train_end, "rows": len(rows)},
            "test": {"from": test_start, "to": test_end, "rows": len(test), "fraud": int(y.sum())},
            "xgb_weight": fitted.xgb_weight,
            "models": {m: metrics(y, scores[m], fitted.thresholds[m]) for m in MODELS},
        }
        for m in MODELS:
            top = daily_top_k(history, test, scores[m], protocol.top_k)
            fold["models"][m]["daily_top_k_precision"] = _mean(d["precision"] for d in top)
            days[m] += top
        folds.append(fold)
        pooled["y"].append(y)
        pooled_typology.append(typology)
        for m in MODELS:
            pooled[m].append(scores[m])
            pooled["flag_" + m].append(scores[m] >= fitted.thresholds[m])

    y = np.concatenate(pooled["y"])
    typology = np.concatenate(pooled_typology)
    columns = history.columns
    report: dict[str, Any] = {
        "protocol": protocol.__dict__,
        "config": {k: v for k, v in config.__dict__.items() if k != "progress"},
        "missing_fields": list(history.missing_fields),
        "unavailable_features": list(columns.unavailable),
        "features": list(columns.features),
        "models": {},
    }
    for m in MODELS:
        s, flags = np.concatenate(pooled[m]), np.concatenate(pooled["flag_" + m])
        summary: dict[str, Any] = dict(metrics(y, s, np.inf))
        summary.update(
            precision_at_threshold=round(float(y[flags].mean()) if flags.any() else 0.0, 4),
            recall_at_threshold=round(float(y[flags].sum() / max(y.sum(), 1)), 4),
            alert_rate=round(float(flags.mean()), 4),
        )
        summary.pop("threshold")
        summary["daily_top_k_precision"] = _mean(d["precision"] for d in days[m])
        summary["daily_top_k"] = days[m]
        if history.has_typology:
            summary["recall_per_typology"] = {
                str(t): round(float(flags[typology == t].mean()), 4)
                for t in sorted({t for t in typology if isinstance(t, str)})
            }
        report["models"][m] = summary
    if history.has_typology:
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
        "daily_top_k_precision",
    )
    return {
        m: {k: round(float(np.mean([f["models"][m][k] for f in folds])), 4) for k in keys}
        for m in folds[0]["models"]
    }


def _mean(values: Any) -> float:
    kept = [v for v in values if not np.isnan(v)]
    return round(float(np.mean(kept)), 4) if kept else float("nan")


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
