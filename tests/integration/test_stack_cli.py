"""`python -m fraudcore.stack up / status / down`, as `make up` runs it, on its own ports and data folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import httpx
import psutil

from fraudcore.settings import Settings
from tests.helpers import stack_settings
from tests.integration.conftest import make_data_dir


def stack_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **settings.to_env()}
    return subprocess.run(
        [sys.executable, "-m", "fraudcore.stack", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def stack_processes(settings: Settings) -> list[psutil.Process]:
    """Every process whose command line mentions this stack's data folder or one of its ports."""
    data_dir = str(settings.stack.data_dir)
    marks = [data_dir, f":{settings.kafka.servers[0].rsplit(':', 1)[1]}"]
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if any(mark in cmdline for mark in marks):
            found.append(process)
    return found


def test_up_status_down_leaves_nothing_running() -> None:
    data_dir = make_data_dir()
    settings = stack_settings(data_dir)
    try:
        up = stack_cli(settings, "up")
        assert up.returncode == 0, up.stderr
        assert f"{settings.api.url}/docs" in up.stdout
        assert settings.kafka.bootstrap_servers in up.stdout

        status = stack_cli(settings, "status")
        assert status.returncode == 0, status.stdout + status.stderr
        for name in (
            "servers:kafka",
            "servers:mongodb",
            "servers:postgres",
            "servers:redis",
            "services:api",
            "services:ml_consumer",
            "services:dash_app",
            "services:simulator",
        ):
            assert name in status.stdout
        assert settings.dash.url in up.stdout
        assert httpx.get(f"{settings.dash.url}health", timeout=10).json()["status"] == "ok"
        ready = httpx.get(f"{settings.api.url}/health/ready", timeout=10)
        assert ready.status_code == 200, ready.text
        assert stack_processes(settings)

        down = stack_cli(settings, "down")
        assert down.returncode == 0, down.stderr
        assert stack_processes(settings) == []
        assert stack_cli(settings, "status").returncode == 3

        # a second `up` reuses the data: the database and its migrations are already there
        again = stack_cli(settings, "up", "--servers-only")
        assert again.returncode == 0, again.stderr
        assert "created database" not in again.stderr
        assert "applied_migrations=[]" in again.stderr
    finally:
        stack_cli(settings, "down")
        assert stack_processes(settings) == []
        shutil.rmtree(data_dir, ignore_errors=True)


def test_up_refuses_ports_that_are_taken(stack) -> None:  # type: ignore[no-untyped-def]
    """Starting a second stack on the running stack's ports fails with a message, not a hang."""
    data_dir = make_data_dir()
    try:
        clash = stack.settings.model_copy(
            update={"stack": stack.settings.stack.model_copy(update={"data_dir": data_dir})}
        )
        done = stack_cli(clash, "up", "--servers-only")
        assert done.returncode == 1
        assert "ports already in use" in done.stderr
        assert "Traceback" not in done.stderr
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
