"""The command line, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from fraudcore.dataset import SUMMARY, iter_transactions


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LOG_FORMAT": "console"}
    return subprocess.run(
        [sys.executable, "-m", "simulator", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_help_lists_the_modes_and_typologies() -> None:
    result = run("--help")
    assert result.returncode == 0
    assert "offline" in result.stdout and "replay" in result.stdout and "peel_chain" in result.stdout
    assert "--rate" in run("live", "--help").stdout


def test_offline_writes_a_dataset_and_a_summary(tmp_path: Path) -> None:
    result = run(
        "offline",
        "--out",
        str(tmp_path),
        "--count",
        "3000",
        "--seed",
        "4",
        "--accounts",
        "300",
        "--fraud-rate",
        "0.02",
        "--start",
        "2026-02-01T00:00:00Z",
        "--no-progress",
    )
    assert result.returncode == 0, result.stderr
    assert "3,000 transactions" in result.stdout and "fraud " in result.stdout
    summary = json.loads((tmp_path / SUMMARY).read_text())
    assert summary["transactions"] == 3000 and summary["seed"] == 4
    txs = list(iter_transactions(tmp_path))
    assert len(txs) == 3000 and txs[0].event_time.isoformat().startswith("2026-02-01")


def test_a_bad_option_value_is_refused_clearly(tmp_path: Path) -> None:
    result = run("offline", "--out", str(tmp_path), "--fraud-rate", "2")
    assert result.returncode == 2
    assert "fraud-rate: Input should be less than or equal to 0.2" in result.stderr
    assert "Traceback" not in result.stderr


def test_replay_with_a_missing_column_says_which(tmp_path: Path) -> None:
    source = tmp_path / "t.csv"
    source.write_text("a,b,c,d\n1,2,3,4\n")
    result = run(
        "replay",
        str(source),
        "--out",
        str(tmp_path / "o"),
        "--map",
        "sender_address=a",
        "--map",
        "receiver_address=b",
        "--map",
        "amount=c",
        "--map",
        "event_time=time",
    )
    assert result.returncode == 2
    assert "event_time -> 'time'" in result.stderr
