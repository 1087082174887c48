"""Helpers the tests share: free ports, throw-away settings, unique names."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
