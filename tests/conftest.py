"""Markers: a test under tests/integration/ is `integration`, everything else is `unit`.

`make test` runs all; `pytest -m unit` is the fast loop with no server.
"""

from __future__ import annotations

from pathlib import Path

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).parts
        item.add_marker(pytest.mark.integration if "integration" in parts else pytest.mark.unit)


pytest_plugins = [
    "tests.models_fixtures",  # a small simulated history and one model version trained on it
    "tests.integration.stores",  # `storage`: a storage processor on its own fresh databases
    "tests.browser",  # `browser`: headless chromium driven by Selenium, screenshots in reports/screenshots
]
