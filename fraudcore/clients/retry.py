"""Waiting for a server to answer, with tenacity, and a log line that says what to do."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from tenacity import RetryCallState, RetryError, Retrying, stop_after_delay, wait_exponential

from fraudcore.logging import get_logger

T = TypeVar("T")
log = get_logger(__name__)

HINT = (
    "is it running? With the embedded stack run `make up` (and `make status`); "
    "with Docker Compose run `docker compose ps`"
)


class NotReady(RuntimeError):
    """A server did not answer within the allowed time."""


def wait_until_ready(name: str, probe: Callable[[], T], timeout_s: float, address: str) -> T:
    """Call ``probe`` until it succeeds or ``timeout_s`` passes; return its result.

    Each failed try is logged with the server's name and address; the final failure
    raises :class:`NotReady` with the last error and a hint.
    """

    def _log(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning(
            "waiting for server",
            server=name,
            address=address,
            attempt=state.attempt_number,
            error=f"{type(exc).__name__}: {exc}",
        )

    retrying = Retrying(
        stop=stop_after_delay(timeout_s),
        wait=wait_exponential(multiplier=0.1, max=2),
        before_sleep=_log,
    )
    try:
        return retrying(probe)
    except RetryError as exc:
        last = exc.last_attempt.exception()
        raise NotReady(
            f"{name} at {address} did not answer within {timeout_s:.0f}s "
            f"({type(last).__name__}: {last}); {HINT}"
        ) from last


def redact(url: str) -> str:
    """A server URL without its credentials, for logs and errors."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}{rest.rpartition('@')[2]}"
