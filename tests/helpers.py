"""Helpers the tests share: free ports, throw-away settings, unique names."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from fraudcore.clients.kafka import ensure_topics, make_admin
from fraudcore.settings import Settings, TopicSettings, TopicSpec, load_settings


def free_port() -> int:
    """A TCP port the OS says is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def stack_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings for an embedded stack on free ports, with its data in ``data_dir``; ignores `.env`."""
    values: dict[str, Any] = {
        "environment": "test",
        "kafka": {
            "bootstrap_servers": f"127.0.0.1:{free_port()}",
            "session_timeout_ms": 2000,
            "heartbeat_interval_ms": 500,
        },
        "mongo": {
            "uri": f"mongodb://127.0.0.1:{free_port()}/?directConnection=true",
            "database": "fraud_test",
        },
        "postgres": {"dsn": f"postgresql://fraud:fraud-test@127.0.0.1:{free_port()}/fraud_test"},
        "redis": {"url": f"redis://127.0.0.1:{free_port()}/0"},
        "api": {"port": free_port(), "key": "test-key"},
        "dash": {"port": free_port()},
        "streamlit": {"port": free_port()},
        "scoring": {"metrics_port": free_port()},
        "storage": {"metrics_port": free_port()},
        "models": {"dir": str(data_dir / "models")},
        "stack": {"data_dir": str(data_dir), "ready_timeout_s": 60},
    }
    for key, value in overrides.items():
        values[key] = {**values[key], **value} if isinstance(value, dict) and key in values else value
    return load_settings(_env_file=None, **values)


def start_service(module: str, settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    """``python -m <module>`` with exactly these settings, its output appended to ``log``."""
    env = {**settings.to_env(), "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LOG_FORMAT": "console"}
    return subprocess.Popen(
        [sys.executable, "-m", module],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_for(predicate: Callable[[], Any], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def isolated_topics(settings: Settings) -> Settings:
    """The same settings with every topic renamed to a fresh, created topic."""
    topics = TopicSettings(
        **{
            name: TopicSpec(name=unique(spec.name), partitions=spec.partitions)
            for name, spec in settings.topics.__dict__.items()
        }
    )
    admin = make_admin(settings)
    ensure_topics(admin, topics.all())
    admin.close()
    return settings.model_copy(update={"topics": topics})


# how export_csv names a simulator dataset's columns: a user's plain transfers file, nothing optional
EXPORT_MAPPING = {
    "tx_id": "ref",
    "event_time": "ts",
    "sender_address": "from",
    "receiver_address": "to",
    "sender_account_id": "customer",
    "amount": "value",
    "amount_usd": "usd",
    "label": "is_fraud",
}


def export_csv(
    dataset: Path,
    path: Path,
    times: str = "unix",
    typology: bool = False,
    label_time: bool = False,
    batch_rows: int = 100_000,
) -> dict[str, str]:
    """A simulator dataset as a user's CSV: renamed columns, no optional field, amounts as text.

    Times are Unix seconds (``times="unix"``) or ISO 8601 (``"iso"``); ``is_fraud`` is 1 for
    every fraud transaction (labelled by the simulator or not). ``typology`` adds the typology
    column, ``label_time`` the time the simulator's label arrived. Returns the mapping (field ->
    column). Written in batches: a 2M-row history exports with bounded memory.
    """
    import pyarrow.parquet as pq

    truth = pq.read_table(dataset / "truth.parquet").to_pandas().set_index("tx_id")["typology"]
    published = pq.read_table(dataset / "labels.parquet").to_pandas().set_index("tx_id")["labelled_at"]
    mapping = dict(EXPORT_MAPPING)
    if typology:
        mapping["typology"] = "kind"
    if label_time:
        mapping["label_time"] = "reported"
    source = pq.ParquetFile(dataset / "transactions.parquet")
    with path.open("w", newline="") as f:
        for i, batch in enumerate(source.iter_batches(batch_size=batch_rows)):
            tx = batch.to_pandas()
            out = pd.DataFrame({"ref": tx["tx_id"]})
            out["ts"] = _times(tx["event_time"], times)
            out["from"], out["to"] = tx["sender_address"], tx["receiver_address"]
            out["customer"] = tx["sender_account_id"]
            out["value"], out["usd"] = tx["amount"].astype(str), tx["amount_usd"].astype(str)
            kinds = tx["tx_id"].map(truth)
            out["is_fraud"] = kinds.notna().astype(int)
            if typology:
                out["kind"] = kinds.fillna("")
            if label_time:
                arrived = tx["tx_id"].map(published)
                out["reported"] = [_times(pd.Series([t]), times)[0] if pd.notna(t) else "" for t in arrived]
            out.to_csv(f, index=False, header=i == 0)
    return mapping


def _times(values: pd.Series, style: str) -> list[str]:
    stamps = pd.to_datetime(values, utc=True)
    if style == "iso":
        return list(stamps.dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    seconds = (stamps - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
    return [f"{s:.6f}" for s in seconds]


def stop_services(processes: list[subprocess.Popen[bytes]], wait_s: float = 30) -> None:
    """SIGTERM each service still running (it finishes its batch), then kill any not gone in ``wait_s``."""
    for p in processes:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in processes:
        try:
            p.wait(wait_s)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)


def feed_like_the_scorer(engine: Any, events: list[Any], batch: int) -> list[Any]:
    """Transactions to ``engine`` in micro-batches, each label learned when it arrives, as the scorer does."""
    from fraudcore.schemas import Label

    out: list[Any] = []
    receiver: dict[str, str] = {}
    pending: list[Any] = []
    for event in events:
        if isinstance(event, Label):
            out += engine.transform(pending)
            pending = []
            engine.learn_labels([(receiver[event.tx_id], event.labelled_at.timestamp())])
            continue
        receiver[event.tx_id] = event.receiver_address
        pending.append(event)
        if len(pending) == batch:
            out += engine.transform(pending)
            pending = []
    return out + engine.transform(pending)
