"""The API's clients, made lazily and kept for the life of the process.

A server that is down when the API starts does not stop it: readiness reports it, and the
routes that need it answer 503 with a message until it is back.
"""

from __future__ import annotations

import threading
from typing import Any

from psycopg2.extensions import connection as PgConnection
from psycopg2.pool import ThreadedConnectionPool

from fraudcore.clients.kafka import make_producer
from fraudcore.clients.mongo import make_mongo, mongo_db
from fraudcore.clients.redis import make_redis
from fraudcore.live import LiveViews
from fraudcore.settings import Settings

POOL_SIZE = 8


class Clients:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.redis = make_redis(settings)
        self.live = LiveViews(self.redis, settings.live)
        self.mongo = make_mongo(settings)
        self.mongo_db = mongo_db(self.mongo, settings)
        self._pool: ThreadedConnectionPool | None = None
        self._producer: Any = None
        self._lock = threading.Lock()

    def postgres(self) -> PgConnection:
        with self._lock:
            if self._pool is None:
                pg = self.settings.postgres
                self._pool = ThreadedConnectionPool(
                    1,
                    POOL_SIZE,
                    str(pg.dsn),
                    connect_timeout=pg.connect_timeout_s,
                    application_name="api",
                )
            pool = self._pool
        conn: PgConnection = pool.getconn()
        if conn.closed:  # the server restarted since: replace it
            pool.putconn(conn, close=True)
            conn = pool.getconn()
        conn.autocommit = True  # the API only reads PostgreSQL
        return conn

    def release(self, conn: PgConnection) -> None:
        if self._pool is not None:
            self._pool.putconn(conn, close=bool(conn.closed))

    def producer(self) -> Any:
        with self._lock:
            if self._producer is None:
                self._producer = make_producer(self.settings, "api")
            return self._producer

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close(timeout=5)
        if self._pool is not None:
            self._pool.closeall()
        self.mongo.close()
        self.redis.close()
