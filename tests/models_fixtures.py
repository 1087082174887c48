"""Shared fixtures: a small simulated history, and one version trained on it through the CLI (~40 s)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fraudcore.settings import SimulatorSettings
from simulator.economy import Economy
from simulator.output import write_offline


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
