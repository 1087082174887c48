"""`python -m storage_consumer`: fraud / legit / labels / dead letters into PostgreSQL, MongoDB and Redis."""

from fraudcore.service import run_service
from fraudcore.settings import Settings


def main(settings: Settings) -> None:
    from storage_consumer.app import main as app

    app(settings)


if __name__ == "__main__":
    run_service("storage_consumer", main)
