"""`python -m api`: bootstrap, then serve the API with uvicorn on API__HOST:API__PORT."""

from __future__ import annotations

import uvicorn

from fraudcore.bootstrap import bootstrap
from fraudcore.service import run_service
from fraudcore.settings import Settings


def main(settings: Settings) -> None:
    from api.main import create_app

    bootstrap(settings)
    uvicorn.run(create_app(settings), host=settings.api.host, port=settings.api.port, log_config=None)


if __name__ == "__main__":
    run_service("api", main)
