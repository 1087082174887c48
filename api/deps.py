"""Injectable dependencies, as ``Annotated`` aliases a route declares by type.

The clients live on ``app.state`` (made once in the lifespan, see :mod:`api.main`); a route
asks for what it needs and never builds a client itself, so tests can swap any of them.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Header, HTTPException, Request, status
from psycopg2.extensions import connection as PgConnection

from fraudcore.live import LiveViews
from fraudcore.settings import Settings


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_app_settings)]


def get_db(request: Request) -> Iterator[PgConnection]:
    """A pooled PostgreSQL connection for the request (read-only use), returned afterwards."""
    clients = request.app.state.clients
    try:
        conn = clients.postgres()
    except Exception as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"PostgreSQL is not answering ({type(exc).__name__}); is the stack up? (make up)",
        ) from exc
    try:
        yield conn
    finally:
        clients.release(conn)


def get_live(request: Request) -> LiveViews:
    live: LiveViews = request.app.state.clients.live
    return live


def get_mongo(request: Request) -> Any:
    return request.app.state.clients.mongo_db


def get_producer(request: Request) -> Any:
    try:
        return request.app.state.clients.producer()
    except Exception as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"Kafka is not answering ({type(exc).__name__}); the label was not recorded, try again",
        ) from exc


def require_api_key(
    settings: SettingsDep, x_api_key: Annotated[str | None, Header(description="API__KEY")] = None
) -> str:
    """Writes need the key from settings, in the ``X-API-Key`` header."""
    if x_api_key is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing X-API-Key header")
    if not secrets.compare_digest(x_api_key.encode(), settings.api.key.get_secret_value().encode()):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "wrong API key")
    return x_api_key


DbDep = Annotated[PgConnection, Depends(get_db)]
LiveDep = Annotated[LiveViews, Depends(get_live)]
MongoDep = Annotated[Any, Depends(get_mongo)]
ProducerDep = Annotated[Any, Depends(get_producer)]
ApiKeyDep = Annotated[str, Depends(require_api_key)]
