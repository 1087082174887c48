"""The monitor in a browser against the whole pipeline, as `make up` runs it, fed by the simulator."""

from __future__ import annotations

import pytest

from fraudcore.stack import EmbeddedStack
from tests.browser import Browser
from tests.integration.dash_app.test_monitor import number

pytestmark = pytest.mark.integration


def test_live_numbers_change_and_every_panel_has_data(live_stack: EmbeddedStack, browser: Browser) -> None:
    settings = live_stack.settings
    browser.open(settings.dash.url)

    # the scoring consumer loads its model, the backfill goes through, the live stream follows
    first = number(browser.wait_text("#kpi-total", lambda t: number(t) > 0, timeout_s=180))
    later = number(browser.wait_text("#kpi-total", lambda t: number(t) > first, timeout_s=30))
    assert later > first
    assert browser.text("#status").startswith("live")

    browser.wait_text("#kpi-rate", lambda t: t.endswith("tx/s") and number(t) > 0, timeout_s=30)
    assert number(browser.text("#kpi-alerts")) > 0  # the cold start alone flags some
    assert len(browser.wait_for("#alerts tbody tr", count=3)) >= 3
    health = browser.wait_text("#health", lambda t: "p50" in t and "threshold" in t)
    assert "v0001" in health
    for graph in ("throughput", "fraud-rate", "histogram"):
        browser.wait_for(f"#{graph} .trace", count=1)  # placeholders have none
    # let the time series gather a few points, then keep a picture of it
    current = number(browser.text("#kpi-total"))
    browser.wait_text("#kpi-total", lambda t: number(t) >= current + 200, timeout_s=60)
    browser.screenshot("dash-monitor")
    assert "Traceback" not in browser.driver.page_source
