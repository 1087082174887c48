"""Replay of a file through a column mapping: renamed columns, a label column, bad rows reported."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from fraudcore.dataset import LABELS, TRANSACTIONS, TRUTH, iter_transactions
from fraudcore.mapping import ColumnMapping, MappingError
from fraudcore.settings import Settings, load_settings
from simulator.replay import replay

HEADER = ["when", "from_wallet", "to_wallet", "value", "usd", "coin", "fraud_flag"]
ROWS = [
    ["2026-01-01T10:00:00Z", "0xaaa", "0xbbb", "1.5", "4800", "ETH", "0"],
    ["1767261660", "0xaaa", "0xccc", "2", "6400", "ETH", "1"],  # Unix seconds: 2026-01-01T10:01:00Z
    ["2026-01-01T10:02:00", "0xddd", "0xbbb", "-3", "10", "ETH", "0"],  # negative amount
    ["yesterday", "0xddd", "0xbbb", "3", "10", "ETH", "0"],  # not a time
    ["2026-01-01T10:04:00Z", "0xeee", "0xbbb", "0.25", "800", "ETH", "maybe"],  # label not 0/1
    ["2026-01-01T20:00:00Z", "0xeee", "0xfff", "0.5", "1600", "ETH", "0"],
]
MAP = [
    "event_time=when",
    "sender_address=from_wallet",
    "receiver_address=to_wallet",
    "amount=value",
    "amount_usd=usd",
    "asset=coin",
    "label=fraud_flag",
]


@pytest.fixture
def settings() -> Settings:
    return load_settings(simulator={"label_delay_hours": 6})


@pytest.fixture
def transfers(tmp_path: Path) -> Path:
    path = tmp_path / "transfers.csv"
    with path.open("w", newline="") as f:
        csv.writer(f).writerows([HEADER, *ROWS])
    return path


def test_replay_to_a_dataset_keeps_good_rows_and_reports_bad_ones(
    transfers: Path, tmp_path: Path, settings: Settings
) -> None:
    out = tmp_path / "dataset"
    summary = replay(transfers, ColumnMapping.parse(MAP), settings, out=out)
    assert (summary.rows, summary.produced, summary.rejected) == (6, 3, 3)
    with summary.rejects_file.open() as f:  # type: ignore[union-attr]
        rejects = list(csv.DictReader(f))
    assert [r["row"] for r in rejects] == ["3", "4", "5"]
    # each reason names the field and the user's column
    assert rejects[0]["reason"].startswith(
        "amount (column 'value'): Input should be greater than or equal to 0"
    )
    assert "event_time (column 'when'): not a time" in rejects[1]["reason"]
    assert "label (column 'fraud_flag'): expected 0 or 1" in rejects[2]["reason"]
    assert "row 3:" in summary.render()

    txs = list(iter_transactions(out))
    assert [t.tx_id for t in txs] == ["transfers-1", "transfers-2", "transfers-6"]
    assert txs[1].event_time.isoformat() == "2026-01-01T10:01:00+00:00"
    assert txs[0].sender_account_id == "0xaaa" and txs[0].asset == "ETH"
    labels = pq.read_table(out / LABELS).to_pylist()
    # the label is published apart from the transaction, after the label delay
    assert [(r["tx_id"], r["is_fraud"]) for r in labels] == [("transfers-2", True)]
    assert labels[0]["labelled_at"].isoformat() == "2026-01-01T16:01:00+00:00"
    assert pq.read_table(out / TRUTH).num_rows == 1
    assert pq.read_table(out / TRANSACTIONS).num_rows == 3


def test_a_mapping_needs_the_core_fields_and_existing_columns(transfers: Path, settings: Settings) -> None:
    with pytest.raises(MappingError, match="must name a column for: amount"):
        ColumnMapping.parse([m for m in MAP if not m.startswith("amount=")])
    with pytest.raises(MappingError, match="unknown field"):
        ColumnMapping.parse([*MAP, "colour=coin"])
    with pytest.raises(MappingError, match="field=column"):
        ColumnMapping.parse(["sender_address"])
    wrong = ColumnMapping.parse([*MAP[:-1], "label=is_fraud"])
    with pytest.raises(MappingError, match="label -> 'is_fraud'"):
        replay(transfers, wrong, settings, out=transfers.parent / "never")


def test_a_mapping_file_in_yaml(tmp_path: Path) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_text("\n".join(m.replace("=", ": ") for m in MAP) + "\n")
    assert ColumnMapping.load(path) == ColumnMapping.parse(MAP)


def test_replay_of_a_parquet_file(tmp_path: Path, transfers: Path, settings: Settings) -> None:
    import pandas as pd

    frame = pd.read_csv(transfers, dtype=str).iloc[[0, 1, 5]]
    frame["value"] = frame["value"].astype(float)
    source = tmp_path / "transfers.parquet"
    frame.to_parquet(source)
    summary = replay(source, ColumnMapping.parse(MAP), settings, out=tmp_path / "from-parquet")
    assert (summary.produced, summary.rejected, summary.labels) == (3, 0, 1)


def test_speed_replays_the_file_clock_faster(tmp_path: Path, settings: Settings) -> None:
    """--speed 20: 30 s of the file's clock take about 1.5 s; max (0): as fast as it can."""
    import time

    path = tmp_path / "clock.csv"
    with path.open("w", newline="") as f:
        rows = [[f"{1767225600 + 10 * i}", "0xa", "0xb", "1", "1", "ETH", "0"] for i in range(4)]
        csv.writer(f).writerows([HEADER, *rows])
    started = time.perf_counter()
    summary = replay(path, ColumnMapping.parse(MAP), settings, speed=20, out=tmp_path / "paced")
    assert summary.produced == 4 and 1.4 <= time.perf_counter() - started < 5
    started = time.perf_counter()
    replay(path, ColumnMapping.parse(MAP), settings, speed=0, out=tmp_path / "fast")
    assert time.perf_counter() - started < 1.0


def test_an_unsorted_file_is_replayed_in_time_order(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "unsorted.csv"
    with path.open("w", newline="") as f:
        csv.writer(f).writerows([HEADER, ROWS[5], ROWS[1], ROWS[0]])  # 20:00, 10:01, 10:00
    summary = replay(path, ColumnMapping.parse(MAP), settings, out=tmp_path / "sorted")
    assert summary.produced == 3
    assert [t.tx_id for t in iter_transactions(tmp_path / "sorted")] == [
        "unsorted-3",
        "unsorted-2",
        "unsorted-1",
    ]


def test_the_replay_command_takes_speed(tmp_path: Path, transfers: Path) -> None:
    from simulator.cli import main

    settings = load_settings(_env_file=None)
    args = [
        "replay",
        str(transfers),
        *(f"--map={m}" for m in MAP),
        "--speed",
        "max",
        "--out",
        str(tmp_path / "o"),
    ]
    assert main(settings, args) == 0
    with pytest.raises(SystemExit):
        main(settings, [*args[:-4], "--speed", "60", "--rate", "5"])  # one pace or the other
