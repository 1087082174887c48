"""`python -m websocket_viewer`: where the viewer page is, and how to open it.

The viewer is one static page (``index.html``): the API serves it at ``/viewer``, and it works
opened straight from disk too (it then connects to ``ws://127.0.0.1:API__PORT/ws/transactions``).
"""

from __future__ import annotations

import sys
from importlib.resources import files

from fraudcore.settings import SettingsError, get_settings


def main() -> None:
    page = files("websocket_viewer").joinpath("index.html")
    try:
        url = f"{get_settings().api.url}/viewer"
    except SettingsError as exc:
        print(f"websocket_viewer: {exc}", file=sys.stderr)  # noqa: T201
        sys.exit(2)
    print(f"served by the API:  {url}\nor open the file:   {page}")  # noqa: T201


if __name__ == "__main__":
    main()
