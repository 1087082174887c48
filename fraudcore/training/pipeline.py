"""From a dataset folder to a registered model version, or to an evaluation report: what the CLI runs."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fraudcore.features import FeatureConfig
from fraudcore.logging import get_logger
from fraudcore.mapping import ColumnMapping
from fraudcore.models.registry import write_version
from fraudcore.settings import Settings
from fraudcore.training.evaluate import Protocol, evaluate, write_report
from fraudcore.training.history import History, load_history, load_mapped_history
from fraudcore.training.train import Fitted, TrainConfig, fit, training_rows

log = get_logger("training")


@dataclass
class Trained:
    version: str
    approved: bool
    validation: dict[str, Any]
    seconds: float
    unavailable_features: tuple[str, ...] = ()
    missing_fields: tuple[str, ...] = ()


def version_manifest(
    *,
    approved: bool,
    approval: str,
    fitted: Fitted,
    history: History,
    features: FeatureConfig,
    config: TrainConfig,
    training_window: dict[str, Any],
    **more: Any,
) -> dict[str, Any]:
    """What a model version's ``manifest.json`` says, for the first training and the retrainer alike."""
    columns = history.columns
    return {
        "approved": approved,
        "approval": approval,
        # the features it uses: all the engine computes, less those needing a field its data lacked
        "features": list(columns.features),
        "step_features": list(columns.steps),
        "unavailable_features": list(columns.unavailable),
        "missing_fields": list(history.missing_fields),
        "threshold": fitted.thresholds["combined"],
        "xgb_weight": fitted.xgb_weight,
        "sequence_length": features.sequence_length,
        "reporting_threshold_usd": features.reporting_threshold_usd,
        "target_alert_rate": config.target_alert_rate,
        "target_precision": config.target_precision,
        "training_window": training_window,
        "validation": {"combined": fitted.validation["combined"]},
        **more,
    }


def train_config(settings: Settings, **overrides: Any) -> TrainConfig:
    values: dict[str, Any] = {
        "target_alert_rate": settings.models.target_alert_rate,
        "target_precision": settings.models.target_precision,
    }
    values.update(overrides)
    return TrainConfig(**values)


def train_from_dataset(
    settings: Settings,
    data: Path,
    config: TrainConfig | None = None,
    history: History | None = None,
    progress: bool = True,
) -> Trained:
    """Featurise ``data``, train on all of it (after the warm-up), and write a new version to the registry."""
    started = time.perf_counter()
    history = history or load_history(data, FeatureConfig.from_settings(settings), progress=progress)
    return train_history(
        settings, history, str(data), config or train_config(settings, progress=progress), started
    )


def train_from_file(
    settings: Settings,
    data: Path,
    mapping: ColumnMapping,
    label_delay_hours: float,
    config: TrainConfig | None = None,
    progress: bool = True,
) -> Trained:
    """The same from a user's CSV or Parquet file read through a column mapping."""
    started = time.perf_counter()
    features = FeatureConfig.from_settings(settings)
    history = load_mapped_history(data, mapping, label_delay_hours, features, progress=progress)
    return train_history(
        settings, history, str(data), config or train_config(settings, progress=progress), started
    )


def train_history(
    settings: Settings,
    history: History,
    source: str,
    config: TrainConfig | None = None,
    started: float | None = None,
) -> Trained:
    """Train on a featurised history (after the warm-up) and write a new version to the registry."""
    started = started if started is not None else time.perf_counter()
    features = FeatureConfig.from_settings(settings)
    config = config or train_config(settings)
    columns = history.columns
    times = history.times
    start, end = float(times.min()), float(times.max())
    rows = training_rows(history, start + config.warmup_hours * 3600, end + 1)
    fitted = fit(history, rows, known_at=end, config=config)
    combined = fitted.validation["combined"]
    approved = combined["average_precision"] >= settings.models.min_average_precision
    y = history.labelled_by(end)[rows]
    manifest = version_manifest(
        approved=bool(approved),
        approval=(
            f"validation average precision {combined['average_precision']:.3f} "
            f"{'>=' if approved else '<'} the minimum {settings.models.min_average_precision}"
        ),
        fitted=fitted,
        history=history,
        features=features,
        config=config,
        training_window={
            "from": _iso(float(times[rows[0]])),
            "to": _iso(end),
            "rows": len(rows),
            "labelled_fraud": int(np.sum(y)),
            "source": source,
        },
    )
    name = write_version(settings.models.dir, fitted.xgb, fitted.lstm, manifest, fitted.validation)
    seconds = time.perf_counter() - started
    log.info("model version written", version=name, approved=approved, seconds=round(seconds, 1))
    return Trained(
        name, bool(approved), fitted.validation, seconds, columns.unavailable, history.missing_fields
    )


def evaluate_dataset(
    settings: Settings,
    data: Path,
    out: Path,
    protocol: Protocol,
    config: TrainConfig | None = None,
    history: History | None = None,
    progress: bool = True,
) -> tuple[dict[str, Any], Path, Path]:
    history = history or load_history(data, FeatureConfig.from_settings(settings), progress=progress)
    report = evaluate(history, protocol, config or train_config(settings, progress=progress))
    report["source"] = str(data)
    json_path, png_path = write_report(report, out)
    return report, json_path, png_path


def evaluate_file(
    settings: Settings,
    data: Path,
    mapping: ColumnMapping,
    label_delay_hours: float,
    out: Path,
    protocol: Protocol,
    config: TrainConfig | None = None,
    progress: bool = True,
) -> tuple[dict[str, Any], Path, Path]:
    """The same from a user's CSV or Parquet file read through a column mapping."""
    features = FeatureConfig.from_settings(settings)
    history = load_mapped_history(
        data, mapping, label_delay_hours, features, progress=progress, what="evaluation"
    )
    report = evaluate(history, protocol, config or train_config(settings, progress=progress))
    report["source"] = str(data)
    report["label_delay_hours"] = (
        label_delay_hours if mapping.label_time is None else "from the label time column"
    )
    json_path, png_path = write_report(report, out)
    return report, json_path, png_path


def _iso(seconds: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")
