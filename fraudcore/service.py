"""What every service's ``__main__`` does first: settings, logs, bootstrap, then its own work."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable

from prometheus_client import start_http_server

from fraudcore.clients import NotReady
from fraudcore.logging import configure_logging, get_logger
from fraudcore.settings import Settings, SettingsError, get_settings


def run_service(name: str, main: Callable[[Settings], None]) -> None:
    """Load and check the settings, set up logging, and run ``main``; exit with a clear message on failure.

    Exit codes: 2 for a wrong setting (the message names the variable), 1 for a server
    that never answered (the message says which, where, and what to check).
    """
    try:
        settings = get_settings()
    except SettingsError as exc:
        print(f"{name}: {exc}", file=sys.stderr)  # noqa: T201 - logging is not set up yet
        sys.exit(2)
    configure_logging(settings, name)
    log = get_logger(name)
    try:
        main(settings)
    except NotReady as exc:
        log.error("a server it needs is not answering", error=str(exc))
        sys.exit(1)
    except KeyboardInterrupt:
        log.info("interrupted")


def not_built_yet(name: str, issue: int) -> None:
    """The entry point of a service whose implementation has not landed: say so and exit 3."""
    print(  # noqa: T201
        f"{name}: this service is not built yet (issue #{issue} in the tracker); "
        "`make up` starts only the services that exist.",
        file=sys.stderr,
    )
    sys.exit(3)


def stop_event() -> threading.Event:
    """An event set by SIGTERM or SIGINT: the consumer loop finishes its batch, commits, and returns."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    return stop


def serve_metrics(settings: Settings, port: int) -> None:
    """Prometheus ``/metrics`` on ``port`` (0: none); on loopback unless ENVIRONMENT=production."""
    if port:
        start_http_server(port, addr="0.0.0.0" if settings.environment == "production" else "127.0.0.1")
