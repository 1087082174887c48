"""`python -m dash_app` in a browser, on a Redis the test controls: down, then up and empty, then fed.

The monitor starts before its Redis, says so on the page, and recovers by itself; the numbers it
shows are exactly what the live views hold.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fraudcore.clients.redis import make_redis
from fraudcore.live import LiveViews
from fraudcore.settings import Settings, load_settings
from fraudcore.stack.servers import redis_program
from tests.browser import Browser
from tests.helpers import free_port, start_service, wait_for
from tests.integration.stores import simulated_scored

pytestmark = pytest.mark.integration


def number(text: str) -> float:
    """The first number in a KPI's text: '1,234' → 1234.0; '' → -1."""
    found = re.search(r"-?[\d,]+(\.\d+)?", text)
    return float(found.group().replace(",", "")) if found else -1.0


@pytest.fixture
def monitor(tmp_path: Path) -> Iterator[tuple[Settings, Path]]:
    """The monitor on free ports, pointed at a Redis port where nothing listens yet."""
    settings = load_settings(
        _env_file=None,
        environment="test",
        redis={"url": f"redis://127.0.0.1:{free_port()}/0"},
        dash={"port": free_port(), "refresh_ms": 500},
    )
    log = tmp_path / "dash_app.log"
    process = start_service("dash_app", settings, log)
    try:
        wait_for(lambda: _answers(settings), 60, "the monitor to answer")
        yield settings, log
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        assert process.wait(15) == 0  # a clean stop on SIGTERM


def _answers(settings: Settings) -> bool:
    try:
        return httpx.get(f"{settings.dash.url}health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_redis_down_then_up_then_fed(
    monitor: tuple[Settings, Path], tmp_path: Path, browser: Browser
) -> None:
    settings, log = monitor
    redis_url = str(settings.redis.url)
    browser.open(settings.dash.url)

    banner = browser.wait_text("#banner", lambda t: "is not answering" in t)
    assert f"Redis at {redis_url} is not answering; start it with make up." in banner
    assert browser.text("#status") == "Redis down"
    assert "not answering" in httpx.get(f"{settings.dash.url}health", timeout=5).json()["redis"]
    browser.screenshot("dash-redis-down", full_page=False)

    program = redis_program(settings, tmp_path)
    server = subprocess.Popen(program.command, stdout=subprocess.DEVNULL, start_new_session=True)
    try:
        # Redis answers, nothing stored yet: the page says what to start
        browser.wait_text("#status", lambda t: t == "waiting for data", timeout_s=30)
        assert "no scored transaction has been stored yet" in browser.text("#banner")

        live = LiveViews(make_redis(settings), settings.live)
        txs, _ = simulated_scored(400, seed=81)
        live.record(txs[:300])
        browser.wait_text("#kpi-total", lambda t: number(t) == 300, timeout_s=15)
        assert browser.text("#status").startswith("live")
        assert browser.text("#banner") == ""
        alerts = sum(tx.predicted_fraud for tx in txs[:300])
        assert number(browser.text("#kpi-alerts")) == alerts
        assert len(browser.wait_for("#alerts tbody tr td", count=1)) > 0

        live.record(txs[300:])
        browser.wait_text("#kpi-total", lambda t: number(t) == 400, timeout_s=15)
        assert "v0001" in browser.text("#health")
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(10)
    assert "Traceback" not in log.read_text()
