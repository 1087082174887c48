"""Structured logs for every service: one line per event, key=value or JSON."""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from fraudcore.settings import Settings


def configure_logging(settings: Settings, service: str) -> None:
    """Send structlog and standard-library logs to stderr in the configured format."""
    level = getattr(logging, settings.log_level)
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if settings.log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=shared,
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # client libraries are chatty: their warnings still come through, but kafka-python's
    # reconnect chatter is left out (our own retries log each wait, with what to do)
    for noisy in ("pymongo", "urllib3", "httpx", "yoyo"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    logging.getLogger("kafka").setLevel(max(level, logging.ERROR))
    logging.getLogger("kafka.net").setLevel(logging.CRITICAL)
    structlog.contextvars.bind_contextvars(service=service)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)
