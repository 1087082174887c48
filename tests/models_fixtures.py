"""Shared fixtures: a small simulated history, and versions trained on it through the CLI (~40 s each).

One from the dataset folder, one from the same history exported as a user's CSV (bring your own data).
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from fraudcore.settings import SimulatorSettings
from simulator.economy import Economy
from simulator.output import write_offline
from tests.helpers import export_csv


@pytest.fixture(scope="session")
def small_history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("history")
    config = SimulatorSettings(accounts=400, fraud_rate=0.02, label_delay_hours=3)
    write_offline(
        Economy(config, seed=12, start=datetime(2026, 2, 1, tzinfo=UTC)), folder, 40_000, progress=False
    )
    return folder


@pytest.fixture(scope="session")
def trained(
    small_history: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    models = tmp_path_factory.mktemp("models")
    env = {
        **os.environ,
        "MODELS__DIR": str(models),
        "MODELS__MIN_AVERAGE_PRECISION": "0.3",
        "LOG_LEVEL": "WARNING",
    }
    result = subprocess.run(
        [sys.executable, "-m", "retrainer", "train", "--data", str(small_history), "--no-progress"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    return models, result


@pytest.fixture(scope="session")
def byod_csv(small_history: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """``small_history`` as a user's CSV (renamed columns, Unix seconds, amounts as text, no optional
    field, no typology), and its mapping as YAML."""
    folder = tmp_path_factory.mktemp("byod")
    csv_path, mapping_path = folder / "transfers.csv", folder / "transfers.yaml"
    mapping = export_csv(small_history, csv_path, times="unix")
    mapping_path.write_text(yaml.safe_dump(mapping))
    return csv_path, mapping_path


@pytest.fixture(scope="session")
def byod_trained(
    byod_csv: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """A version trained from ``byod_csv`` through its mapping, by the command a user runs."""
    models = tmp_path_factory.mktemp("byod-models")
    csv_path, mapping_path = byod_csv
    env = {
        **os.environ,
        "MODELS__DIR": str(models),
        "MODELS__MIN_AVERAGE_PRECISION": "0.3",
        "LOG_LEVEL": "WARNING",
    }
    command = ["train", "--data", str(csv_path), "--mapping", str(mapping_path), "--label-delay-hours", "3"]
    result = subprocess.run(
        [sys.executable, "-m", "retrainer", *command, "--no-progress"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    return models, result
