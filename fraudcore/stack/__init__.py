"""The embedded stack: real Kafka, MongoDB, PostgreSQL and Redis servers from pip wheels.

For machines without Docker (and for the tests): ``python -m fraudcore.stack up``
starts tansu (Kafka), SecantusDB (MongoDB), PostgreSQL and Redis as local processes
under supervisord, on the ports the settings name, with data and logs in one
git-ignored folder (``.stack/`` by default); waits until each answers; bootstraps
topics, migrations and indexes; then starts every service. ``down`` stops exactly
what ``up`` started.
"""

from __future__ import annotations

from fraudcore.stack.stack import EmbeddedStack, StackError

__all__ = ["EmbeddedStack", "StackError"]
