"""Browser tests: Debian's chromium, headless, driven through Debian's chromedriver by Selenium.

A pytest plugin (listed in ``tests/conftest.py``): the ``browser`` fixture gives each test a fresh
headless chromium with its own profile, and saves a screenshot of the page when the test fails.
Screenshots go to ``reports/screenshots/`` (``SCREENSHOTS_DIR`` overrides it).

The same browser takes the README's screenshots of a running stack (``make up``):

    python -m tests.browser http://127.0.0.1:8050/ docs/screenshots/dash-monitor.png --wait "#kpi-total"

Nothing is downloaded: Selenium Manager is switched off and the driver's path is given. Without
chromium the fixture fails with the command that installs it (``.ci/run`` runs it), it does not skip.

    def test_page(browser: Browser) -> None:
        browser.open("http://127.0.0.1:8050/")
        total = browser.wait_text("#kpi-total", lambda text: text not in ("", "0"), timeout_s=60)
        browser.screenshot("dash-monitor")
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
SCREENSHOTS = Path(os.environ.get("SCREENSHOTS_DIR", ROOT / "reports" / "screenshots"))
# what chromium needs as root in a container, and no traffic of its own (INFRA.md, "Browser checks")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
)


class Browser:
    """A headless chromium with a few waits that read like the test: open, wait for text, screenshot."""

    def __init__(self, driver: webdriver.Chrome, width: int) -> None:
        self.driver = driver
        self.width = width

    def open(self, url: str) -> None:
        self.driver.get(url)

    def text(self, css: str) -> str:
        """The visible text of the first element matching ``css`` ("" when there is none)."""
        try:
            found = self.driver.find_elements(By.CSS_SELECTOR, css)
            return found[0].text.strip() if found else ""
        except StaleElementReferenceException:  # re-rendered between find and read
            return ""

    def wait_text(self, css: str, until: Callable[[str], bool], timeout_s: float = 30) -> str:
        """Wait until the text of ``css`` satisfies ``until``; return it (fail saying what was seen)."""
        seen: list[str] = []

        def check(_: Any) -> str | bool:
            text = self.text(css)
            seen.append(text)
            return text if until(text) else False

        try:
            result: str = WebDriverWait(self.driver, timeout_s, poll_frequency=0.25).until(check)
        except Exception:
            raise AssertionError(
                f"{css}: waited {timeout_s:g} s; last text seen: {seen[-1] if seen else None!r}"
            ) from None
        return result

    def wait_for(self, css: str, count: int = 1, timeout_s: float = 30) -> list[WebElement]:
        """Wait until at least ``count`` elements match ``css``; return them."""

        def check(_: Any) -> list[WebElement] | bool:
            found = self.driver.find_elements(By.CSS_SELECTOR, css)
            return found if len(found) >= count else False

        try:
            result: list[WebElement] = WebDriverWait(self.driver, timeout_s, poll_frequency=0.25).until(check)
        except Exception:
            seen = len(self.driver.find_elements(By.CSS_SELECTOR, css))
            raise AssertionError(f"{css}: waited {timeout_s:g} s for {count}, found {seen}") from None
        return result

    def screenshot(self, name: str, full_page: bool = True, path: Path | None = None) -> Path:
        """Save a PNG of the page (its whole height by default) to the screenshots folder, or ``path``."""
        path = path or SCREENSHOTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        if full_page:
            height = int(self.driver.execute_script("return document.documentElement.scrollHeight"))
            self.driver.set_window_size(self.width, max(height, 600))
            time.sleep(0.5)  # let the figures re-lay out at the new size
        self.driver.save_screenshot(str(path))
        return path


def start_chromium(width: int = 1600, height: int = 1000) -> tuple[webdriver.Chrome, Path]:
    """A headless chromium with a fresh profile folder (returned, for the caller to delete)."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    if missing:
        raise RuntimeError(
            f"{', '.join(missing)} not found: the browser tests need Debian's chromium and its driver "
            "(apt-get install chromium chromium-driver; .ci/run installs them)"
        )
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must not fetch a driver or a browser
    profile = Path(tempfile.mkdtemp(prefix="chromium-profile-"))
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={width},{height}")
    try:
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    except WebDriverException:
        shutil.rmtree(profile, ignore_errors=True)
        raise
    return driver, profile


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


_FAILED = pytest.StashKey[bool]()


@pytest.fixture
def browser(request: pytest.FixtureRequest) -> Iterator[Browser]:
    """A fresh headless chromium per test; on failure the page is saved as FAILED-<test>.png."""
    width = 1600
    driver, profile = start_chromium(width)
    try:
        yield Browser(driver, width)
        if request.node.stash.get(_FAILED, False):
            Browser(driver, width).screenshot(f"FAILED-{request.node.name}")
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def main() -> None:
    """Screenshot a live page: wait until ``--wait`` shows a value, let it settle, save the PNG."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tests.browser", description=main.__doc__)
    parser.add_argument("url")
    parser.add_argument("out", type=Path, help="the PNG to write")
    parser.add_argument("--wait", default="body", help="CSS of an element whose text must be a value")
    parser.add_argument("--settle-s", type=float, default=20, help="then wait this long (live rates)")
    parser.add_argument("--width", type=int, default=1600)
    args = parser.parse_args()
    driver, profile = start_chromium(args.width)
    try:
        browser = Browser(driver, args.width)
        browser.open(args.url)
        browser.wait_text(args.wait, lambda text: text not in ("", "0", "—"), timeout_s=120)
        time.sleep(args.settle_s)
        print(browser.screenshot("", path=args.out))
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main()
