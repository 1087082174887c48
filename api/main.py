"""The FastAPI application, built by :func:`create_app` from a :class:`Settings` (no import-time state)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from prometheus_client import make_asgi_app

import fraudcore
from api.routes import health
from fraudcore.settings import Settings


def create_app(settings: Settings) -> FastAPI:
    app = FastAPI(
        title="Crypto fraud detection API",
        version=fraudcore.__version__,
        description="Scored transactions, alerts, wallets, live statistics and analyst feedback.",
    )
    app.state.settings = settings
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.api.cors_origins,
        allow_methods=["*"],
        allow_headers=["*"],
    )
    app.include_router(health.router)
    app.mount("/metrics", make_asgi_app())
    return app
