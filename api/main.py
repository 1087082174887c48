"""The FastAPI application, built by :func:`create_app` from a :class:`Settings` (no import-time state)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg2
import redis
from fastapi import FastAPI, Request, status
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, RedirectResponse
from prometheus_client import make_asgi_app
from pymongo.errors import PyMongoError

import fraudcore
from api.broadcast import Broadcaster
from api.clients import Clients
from api.routes import (
    health,
    labels,
    model_versions,
    retrain,
    stats,
    stream,
    transactions,
    viewer,
    wallets,
)
from fraudcore.settings import Settings

UNAVAILABLE = {
    psycopg2.OperationalError: "PostgreSQL",
    psycopg2.InterfaceError: "PostgreSQL",
    redis.exceptions.ConnectionError: "Redis",
    redis.exceptions.TimeoutError: "Redis",
    PyMongoError: "MongoDB",
}


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.clients = Clients(settings)
        app.state.broadcaster = Broadcaster(settings)
        await app.state.broadcaster.start()
        try:
            yield
        finally:
            await app.state.broadcaster.stop()
            app.state.clients.close()

    app = FastAPI(
        title="Crypto fraud detection API",
        version=fraudcore.__version__,
        description=(
            "Scored transactions, alerts, wallets, live statistics, model versions and analyst "
            "feedback; a WebSocket live stream at `/ws/transactions` and its viewer at `/viewer`."
        ),
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.api.cors_origins,
        allow_methods=["*"],
        allow_headers=["*"],
    )
    for router in (
        health.router,
        transactions.router,
        wallets.router,
        stats.router,
        model_versions.router,
        labels.router,
        retrain.router,
        stream.router,
        viewer.router,
    ):
        app.include_router(router)
    app.mount("/metrics", make_asgi_app())

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/docs")

    for error, server in UNAVAILABLE.items():
        app.add_exception_handler(error, _unavailable(server))
    return app


def _unavailable(server: str):  # type: ignore[no-untyped-def]
    async def handler(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(
            {"detail": f"{server} is not answering ({type(exc).__name__}); is the stack up? (make up)"},
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        )

    return handler
