"""`python -m dash_app`: the live operations monitor on DASH__HOST:DASH__PORT.

It needs only Redis, and starts without it: the page says Redis is down until it answers.
"""

from __future__ import annotations

import logging
import signal
import threading

from werkzeug.serving import make_server

from fraudcore.clients.retry import redact
from fraudcore.logging import get_logger
from fraudcore.service import run_service
from fraudcore.settings import Settings


def main(settings: Settings) -> None:
    from dash_app.app import create_app

    app = create_app(settings)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request, every refresh
    server = make_server(settings.dash.host, settings.dash.port, app.server, threaded=True)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    get_logger("dash_app").info(
        "serving",
        url=settings.dash.url,
        refresh_ms=settings.dash.refresh_ms,
        redis=redact(str(settings.redis.url)),
    )
    server.serve_forever()
    get_logger("dash_app").info("stopped")


if __name__ == "__main__":
    run_service("dash_app", main)
