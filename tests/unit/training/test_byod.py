"""Bring your own data: train, evaluate and score from a user's CSV through a column mapping."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from fraudcore.features import FEATURES, STEP_FEATURES, FeatureConfig, FeatureEngine, MemoryStore
from fraudcore.mapping import LABEL_FIELDS, TRANSACTION_FIELDS, ColumnMapping, map_file
from fraudcore.models.base import Inputs
from fraudcore.models.registry import MANIFEST, latest_approved, load_version
from fraudcore.settings import load_settings
from fraudcore.training.history import load_mapped_history
from retrainer.cli import main
from tests.helpers import EXPORT_MAPPING, export_csv

UNAVAILABLE = ["new_device", "new_country", "new_channel", "hours_since_new_access"]


def test_the_mapping_knows_every_transaction_field() -> None:
    """One truth: the mapping's fields are the Transaction's, plus the label's."""
    assert set(ColumnMapping.model_fields) == set(TRANSACTION_FIELDS) | set(LABEL_FIELDS)


def test_a_version_trained_from_a_csv_leaves_out_what_the_file_lacks(
    byod_trained: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    models, result = byod_trained
    assert "v0001 written" in result.stdout and "approved" in result.stdout
    assert "features left out (their field is missing): " + ", ".join(UNAVAILABLE) in result.stdout
    manifest = json.loads((models / "v0001" / MANIFEST).read_text())
    assert manifest["unavailable_features"] == UNAVAILABLE
    assert manifest["features"] == [f for f in FEATURES if f not in UNAVAILABLE]
    assert manifest["step_features"] == [s for s in STEP_FEATURES if s not in ("new_device", "new_country")]
    assert {"device_id", "ip_country", "channel", "fee", "chain", "asset"} <= set(manifest["missing_fields"])
    assert manifest["training_window"]["source"].endswith("transfers.csv")
    assert latest_approved(models) == "v0001"
    version = load_version(models, "v0001")
    assert version.xgb.booster is not None and version.xgb.booster.num_features() == len(manifest["features"])


def test_the_scorer_scores_the_file_with_that_version(
    byod_trained: tuple[Path, subprocess.CompletedProcess[str]], byod_csv: tuple[Path, Path]
) -> None:
    """What the scoring consumer does per batch: the engine's full features in, the version picks its own."""
    models, _ = byod_trained
    version = load_version(models, "v0001")
    csv_path, mapping_path = byod_csv
    rows = [r for good, _ in map_file(csv_path, ColumnMapping.load(mapping_path)) for r in good]
    engine = FeatureEngine(MemoryStore(), FeatureConfig())
    scores, truth = [], []
    for start in range(0, len(rows), 2000):
        batch = rows[start : start + 2000]
        features = engine.transform([r.tx for r in batch])
        inputs = Inputs.of_features(features, int(version.manifest["sequence_length"]))
        assert inputs.x.shape[1] == len(FEATURES)  # every feature computed, NaN where a field is missing
        combined, _, _ = version.score(inputs)
        scores.append(combined)
        truth += [bool(r.is_fraud) for r in batch]
    reasons = version.explain(inputs.x[-50:])
    assert all(len(r) <= 3 for r in reasons)
    assert not any("device" in text or "country" in text for r in reasons for text in r)
    score, y = np.concatenate(scores), np.asarray(truth)
    assert score[y].mean() > 10 * score[~y].mean()


def test_evaluate_from_a_csv_with_iso_times_and_typologies(small_history: Path, tmp_path: Path) -> None:
    csv_path = tmp_path / "transfers.csv"
    mapping = export_csv(small_history, csv_path, times="iso", typology=True, label_time=True)
    assert pd.read_csv(csv_path, nrows=1)["ts"][0].endswith("Z")
    mapping_path = tmp_path / "mapping.json"
    mapping_path.write_text(json.dumps(mapping))
    out = tmp_path / "report"
    source = ["--data", str(csv_path), "--mapping", str(mapping_path), "--out", str(out)]
    args = ["--folds", "2", "--test-days", "3", "--gap-hours", "6", "--top-k", "25", "--no-progress"]
    result = subprocess.run(
        [sys.executable, "-m", "retrainer", "evaluate", *source, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "LOG_LEVEL": "WARNING"},
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "top-25/day precision" in result.stdout and "features left out" in result.stdout
    report = json.loads((out / "evaluation.json").read_text())
    assert (out / "pr_curves.png").stat().st_size > 10_000
    assert report["unavailable_features"] == UNAVAILABLE and report["protocol"]["top_k"] == 25
    for model in ("xgboost", "lstm", "combined"):
        figures = report["models"][model]
        assert 0 < figures["average_precision"] <= 1 and 0.5 < figures["roc_auc"] <= 1
        assert 0 <= figures["recall_at_1pct_fpr"] <= 1 and 0 < figures["daily_top_k_precision"] <= 1
        days = figures["daily_top_k"]
        assert len(days) >= 6 and all(d["alerts"] <= 25 for d in days)
        assert any(d["accounts_left_out"] > 0 for d in days)  # confirmed accounts are not alerted again
        assert {"scam_collector", "structuring"} <= set(figures["recall_per_typology"])
    assert report["mean_over_folds"]["combined"]["daily_top_k_precision"] > 0


def test_top_k_leaves_out_accounts_confirmed_before_the_day(tmp_path: Path) -> None:
    from fraudcore.training.evaluate import daily_top_k
    from fraudcore.training.history import History

    day = 86400.0 * 20000
    frame = pd.DataFrame(
        {
            "time": [day - 7200, day + 10, day + 20, day + 30, day + 40],
            "account": ["known", "known", "a", "b", "c"],
            "label_time": [day - 3600, np.nan, np.nan, np.nan, np.nan],
            "typology": ["fraud", "fraud", "fraud", None, None],
        }
    )
    history = History(np.zeros((5, 1)), np.zeros((5, 1)), np.zeros((5, 0)), frame, has_typology=False)
    test = np.arange(1, 5)
    days = daily_top_k(history, test, np.array([0.99, 0.9, 0.8, 0.1]), k=2)
    # "known" was confirmed before the day: left out; the top two of the rest are a (fraud) and b (not)
    assert days == [{"day": "2024-10-04", "alerts": 2, "precision": 0.5, "accounts_left_out": 1}]


T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _write(path: Path, rows: list[dict[str, object]]) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _tx(minutes: float, sender: str, receiver: str, fraud: int = 0, reported: str = "") -> dict[str, object]:
    when = T0 + timedelta(minutes=minutes)
    return {
        "ref": f"t{minutes:g}",
        "ts": f"{when.timestamp():.0f}",
        "from": sender,
        "to": receiver,
        "customer": sender,
        "value": "10.50",
        "usd": "10.50",
        "is_fraud": fraud,
        "reported": reported,
    }


def test_a_label_is_never_used_before_it_arrives(tmp_path: Path) -> None:
    """The fraud to 0xmule is labelled 2 hours later (the delay) or when the label time column says."""
    rows = [_tx(0, "0xvictim", "0xmule", fraud=1)]
    rows += [_tx(m, f"0xpayer{m}", "0xmule") for m in (30, 60, 119, 121, 180, 299, 301)]
    path = _write(tmp_path / "labels.csv", rows)
    mapping = ColumnMapping.build(dict(EXPORT_MAPPING))
    history = load_mapped_history(path, mapping, label_delay_hours=2, progress=False)
    bad = history.x[:, FEATURES.index("receiver_known_bad")]
    assert bad.tolist() == [0, 0, 0, 0, 1, 1, 1, 1]  # known bad from 2 h after, not before
    arrival = T0.timestamp() + 7200
    assert history.frame["label_time"][0] == arrival
    assert history.labelled_by(arrival - 1)[0] == 0 and history.labelled_by(arrival)[0] == 1

    rows[0]["reported"] = (T0 + timedelta(hours=5)).isoformat()
    path = _write(tmp_path / "reported.csv", rows)
    mapping = ColumnMapping.build({**EXPORT_MAPPING, "label_time": "reported"})
    history = load_mapped_history(path, mapping, label_delay_hours=2, progress=False)
    assert history.x[:, FEATURES.index("receiver_known_bad")].tolist() == [0, 0, 0, 0, 0, 0, 0, 1]
    assert history.labelled_by(T0.timestamp() + 4 * 3600)[0] == 0


def test_an_unsorted_file_is_featurised_in_time_order(tmp_path: Path) -> None:
    rows = [_tx(m, f"0xs{m % 3}", f"0xr{m % 4}", fraud=int(m == 5)) for m in range(40)]
    mapping = ColumnMapping.build(dict(EXPORT_MAPPING))
    ordered = load_mapped_history(_write(tmp_path / "a.csv", rows), mapping, 0.5, progress=False)
    shuffled = [rows[i] for i in np.random.default_rng(3).permutation(len(rows))]
    unsorted = load_mapped_history(_write(tmp_path / "b.csv", shuffled), mapping, 0.5, progress=False)
    assert unsorted.frame["tx_id"].tolist() == ordered.frame["tx_id"].tolist()
    assert np.array_equal(unsorted.x, ordered.x, equal_nan=True)


# --- bad input: a clear error naming the column and the first bad rows; nothing in the registry ----------


@pytest.fixture
def user_file(tmp_path: Path) -> tuple[Path, Path]:
    rows = [_tx(m, f"0xs{m % 5}", f"0xr{m % 7}", fraud=int(m % 17 == 0)) for m in range(60)]
    path = _write(tmp_path / "transfers.csv", rows)
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(yaml.safe_dump(EXPORT_MAPPING))
    return path, mapping


def _run(tmp_path: Path, *argv: str) -> int:
    settings = load_settings(_env_file=None, models={"dir": str(tmp_path / "models")})
    return main(settings, list(argv))


def _registry_untouched(tmp_path: Path) -> bool:
    folder = tmp_path / "models"
    return not folder.exists() or not list(folder.iterdir())


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_a_mapped_column_that_is_not_in_the_file(
    command: str, user_file: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, mapping = user_file
    code = _run(tmp_path, command, "--data", str(path), "--mapping", str(mapping), "--map", "label=fraud")
    err = capsys.readouterr().err
    assert code == 2 and "column(s) not in the file: label -> 'fraud'" in err and "is_fraud" in err
    assert _registry_untouched(tmp_path)


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("ts", "2026-13-45 25:00", "event_time (column 'ts'): not a time (ISO 8601 or Unix seconds)"),
        ("value", "12,5", "amount (column 'value'): not a number: '12,5'"),
        ("usd", "ten", "amount_usd (column 'usd'): not a number: 'ten'"),
        ("is_fraud", "2", "label (column 'is_fraud'): expected 0 or 1"),
    ],
)
def test_a_bad_value_names_its_column_and_rows(
    column: str,
    value: str,
    expected: str,
    user_file: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, mapping = user_file
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[[6, 41], column] = value  # data rows 7 and 42
    frame.to_csv(path, index=False)
    code = _run(tmp_path, "train", "--data", str(path), "--mapping", str(mapping), "--no-progress")
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"row 7: {expected}" in err and f"row 42: {expected}" in err
    assert "training needs every row to fit" in err
    assert _registry_untouched(tmp_path)


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_a_row_with_a_missing_column_is_a_clear_error(
    command: str, user_file: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, mapping = user_file
    with path.open("a") as f:
        f.write("tx-short,1793318409.1,0xa\n")
    code = _run(tmp_path, command, "--data", str(path), "--mapping", str(mapping), "--no-progress")
    err = capsys.readouterr().err
    assert code == 2 and "not a well-formed CSV" in err and "tx-short" in err
    assert _registry_untouched(tmp_path)


def test_a_file_without_labels_can_be_replayed_not_trained_on(
    user_file: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = user_file
    pairs = [f"--map={field}={column}" for field, column in EXPORT_MAPPING.items() if field != "label"]
    assert _run(tmp_path, "train", "--data", str(path), *pairs) == 2
    err = capsys.readouterr().err
    assert "names no label column" in err and "python -m simulator replay" in err
    assert _registry_untouched(tmp_path)


def test_a_file_needs_a_mapping(
    user_file: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = user_file
    assert _run(tmp_path, "evaluate", "--data", str(path)) == 2
    assert "--mapping" in capsys.readouterr().err
    assert _run(tmp_path, "train", "--data", str(tmp_path / "nothing.csv"), "--map", "a=b") == 2
    assert "no such file" in capsys.readouterr().err


def test_a_file_with_too_few_frauds_says_so(
    user_file: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, mapping = user_file
    frame = pd.read_csv(path, dtype=str, keep_default_na=False).assign(is_fraud="0")
    frame.to_csv(path, index=False)
    assert _run(tmp_path, "train", "--data", str(path), "--mapping", str(mapping), "--no-progress") == 2
    assert "too few labelled frauds" in capsys.readouterr().err
    assert _registry_untouched(tmp_path)
