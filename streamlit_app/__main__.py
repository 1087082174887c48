"""`python -m streamlit_app`: the analyst app on STREAMLIT__HOST:STREAMLIT__PORT (Streamlit's own server)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from fraudcore.service import run_service
from fraudcore.settings import Settings

APP = Path(__file__).with_name("app.py")


def main(settings: Settings) -> None:
    s = settings.streamlit
    args = [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.address", s.host,
        "--server.port", str(s.port),
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
        "--theme.base", "dark",
    ]  # fmt: skip
    os.execv(sys.executable, args)  # the same process: supervisord and Docker signal Streamlit itself


if __name__ == "__main__":
    run_service("streamlit_app", main)
