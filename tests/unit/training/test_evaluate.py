"""The prequential evaluation, as a user runs it: a JSON report and a PR-curve plot."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def test_evaluate_writes_the_report_and_the_plot(small_history: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    env = {**os.environ, "LOG_LEVEL": "WARNING"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "retrainer",
            "evaluate",
            "--data",
            str(small_history),
            "--out",
            str(out),
            "--folds",
            "2",
            "--test-days",
            "3",
            "--gap-hours",
            "6",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "combined  AP" in result.stdout
    report = json.loads((out / "evaluation.json").read_text())
    assert (out / "pr_curves.png").stat().st_size > 10_000
    assert len(report["folds"]) == 2
    for model in ("xgboost", "lstm", "combined"):
        figures = report["models"][model]
        expected = {"average_precision", "roc_auc", "recall_at_1pct_fpr", "precision_at_threshold"}
        assert set(figures) >= expected | {"recall_per_typology"}
        assert 0 < figures["average_precision"] <= 1
    first, second = report["folds"]
    assert first["test"]["to"] <= second["test"]["from"] + 1  # folds walk forward in time
    assert first["train"]["to"] + 6 * 3600 <= first["test"]["from"] + 1  # the gap is left out
    assert (
        report["lstm_adds_per_typology"].keys() == report["models"]["combined"]["recall_per_typology"].keys()
    )


def test_a_folder_that_is_not_a_dataset_is_refused_clearly(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "retrainer", "train", "--data", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "not a dataset folder" in result.stderr and "simulator offline" in result.stderr
