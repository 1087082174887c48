"""Versions: complete or absent, found by the registry, refused when their features do not fit."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from fraudcore.features import FEATURES, schema_version
from fraudcore.models.base import Inputs
from fraudcore.models.lstm import SIZES
from fraudcore.models.registry import (
    MANIFEST,
    ModelError,
    ModelWatcher,
    combine,
    latest_approved,
    load_version,
    versions,
    write_version,
)
from fraudcore.training.history import load_history


def test_the_command_writes_a_complete_approved_version(
    trained: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    models, result = trained
    assert "v0001 written" in result.stdout and "approved" in result.stdout
    folder = models / "v0001"
    assert sorted(p.name for p in folder.iterdir()) == [
        "lstm.keras",
        "manifest.json",
        "metrics.json",
        "xgb.json",
    ]
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["feature_schema_version"] == schema_version() and manifest["features"] == list(FEATURES)
    assert manifest["approved"] is True and 0 < manifest["threshold"] < 1 and 0 <= manifest["xgb_weight"] <= 1
    window = manifest["training_window"]
    assert window["rows"] > 30_000 and window["labelled_fraud"] > 100 and window["from"] < window["to"]
    assert manifest["validation"]["combined"]["average_precision"] > 0.3
    assert not [p for p in models.iterdir() if p.name.startswith(".tmp")]
    assert latest_approved(models) == "v0001"


def test_a_loaded_version_scores_like_the_one_trained(
    trained: tuple[Path, subprocess.CompletedProcess[str]], small_history: Path
) -> None:
    models, _ = trained
    version = load_version(models, "v0001")
    history = load_history(small_history, progress=False)
    rows = np.arange(len(history) - 2000, len(history))
    x = history.x[rows].copy()
    inputs = Inputs(history.x[rows], lambda part: history.sequences(rows[part]))
    combined, p_xgb, p_lstm = version.score(inputs)
    assert np.array_equal(history.x[rows], x, equal_nan=True)  # inputs are not modified
    assert ((combined >= 0) & (combined <= 1)).all()
    assert np.allclose(combined, combine(p_xgb, p_lstm, version.xgb_weight))
    low, high = np.minimum(p_xgb, p_lstm), np.maximum(p_xgb, p_lstm)
    assert ((combined >= low - 1e-9) & (combined <= high + 1e-9)).all()  # always between the two
    truth = history.truth[rows]
    assert combined[truth == 1].mean() > 5 * combined[truth == 0].mean()
    again = load_version(models, "v0001").score(inputs)[0]
    assert np.allclose(combined, again, atol=1e-6)  # deterministic after a reload


def test_the_lstm_compiled_by_xla_gives_the_same_probabilities(
    trained: tuple[Path, subprocess.CompletedProcess[str]], small_history: Path
) -> None:
    models, _ = trained
    lstm = load_version(models, "v0001", threads=1).lstm
    history = load_history(small_history, progress=False)
    batches = {n: history.sequences(np.arange(n)) for n in (1, 37, 500, SIZES[-1])}
    kernels = {n: lstm.predict_sequences(x) for n, x in batches.items()}  # before: TensorFlow's kernels
    lstm.start_compiling().join()
    assert set(SIZES) <= lstm._ready
    for n, x in batches.items():  # padded up to a compiled size, the padding's results dropped
        compiled = lstm.predict_sequences(x)
        assert compiled.shape == (n,)
        assert np.allclose(compiled, kernels[n], atol=1e-5)


def test_a_watcher_stops_compiling_when_closed_and_the_lstm_still_scores(
    trained: tuple[Path, subprocess.CompletedProcess[str]], small_history: Path
) -> None:
    models, _ = trained
    x = load_history(small_history, progress=False).sequences(np.arange(300))
    plain = ModelWatcher(models, compile_lstm=False).current()
    assert plain is not None and plain.lstm._compiling is None  # SCORING__COMPILE_LSTM=false
    watcher = ModelWatcher(models)
    version = watcher.current()
    assert version is not None and version.lstm._compiling is not None
    thread = version.lstm._compiling[0]
    watcher.close()  # as the scoring consumer does when it stops: a process must not exit mid-compile
    assert not thread.is_alive()
    assert len(version.lstm._ready) < len(SIZES)  # stopped after the size in progress (10 s for all)
    assert np.allclose(version.lstm.predict_sequences(x), plain.lstm.predict_sequences(x), atol=1e-5)


def test_writing_is_atomic_and_numbers_go_up(
    trained: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    models, _ = trained
    version = load_version(models, "v0001")
    target = tmp_path / "registry"

    class Broken:
        def save(self, folder: Path) -> None:
            (folder / "lstm.keras").write_text("half")
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_version(target, version.xgb, Broken(), {"approved": True}, {})  # type: ignore[arg-type]
    assert list(target.iterdir()) == []  # nothing half-written is left, not even the staging folder
    assert (
        write_version(target, version.xgb, version.lstm, {**version.manifest, "approved": False}, {})
        == "v0001"
    )
    assert (
        write_version(target, version.xgb, version.lstm, {**version.manifest, "approved": True}, {})
        == "v0002"
    )
    assert (
        write_version(target, version.xgb, version.lstm, {**version.manifest, "approved": False}, {})
        == "v0003"
    )
    assert versions(target) == ["v0001", "v0002", "v0003"]
    assert latest_approved(target) == "v0002"  # the newest *approved* one


def test_a_version_with_another_feature_schema_is_refused(
    trained: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    models, _ = trained
    shutil.copytree(models / "v0001", tmp_path / "v0001")
    manifest = json.loads((tmp_path / "v0001" / MANIFEST).read_text())
    manifest["feature_schema_version"] = "0123456789abcdef"
    (tmp_path / "v0001" / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match=r"trained on feature schema 0123456789abcdef.*make models"):
        load_version(tmp_path, "v0001")
    assert latest_approved(tmp_path) is None


def test_a_damaged_version_is_refused_with_a_reason(
    trained: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    models, _ = trained
    shutil.copytree(models / "v0001", tmp_path / "v0001")
    (tmp_path / "v0001" / "xgb.json").write_text("{not json")
    with pytest.raises(ModelError, match="cannot load its models"):
        load_version(tmp_path, "v0001")


def test_every_alert_comes_with_reasons_a_person_can_read(
    trained: tuple[Path, subprocess.CompletedProcess[str]], small_history: Path
) -> None:
    models, _ = trained
    version = load_version(models, "v0001")
    history = load_history(small_history, progress=False)
    fraud = np.nonzero(history.truth == 1)[0][-40:]
    explained = version.explain(history.x[fraud])
    assert all(1 <= len(r) <= 3 for r in explained)
    words = " ".join(" ".join(r) for r in explained)
    assert any(term in words for term in ("receiver", "wallet", "amount", "device"))
