"""`python -m ml_consumer`: score the transactions topic, store in MongoDB, route to fraud / legit."""

from fraudcore.service import run_service
from fraudcore.settings import Settings


def main(settings: Settings) -> None:
    from ml_consumer.app import main as app

    app(settings)


if __name__ == "__main__":
    run_service("ml_consumer", main)
