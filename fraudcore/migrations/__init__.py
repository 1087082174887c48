"""Versioned PostgreSQL schema migrations (yoyo-migrations), applied by every service at start.

Each file in ``sql/`` is one migration, applied once, in file-name order, under
yoyo's lock so services starting together do not race; yoyo records each in its
``_yoyo_migration`` table. Add a change as a new file: never edit an applied one.
"""

from __future__ import annotations

from pathlib import Path

from yoyo import get_backend, read_migrations

from fraudcore.logging import get_logger

SQL_DIR = Path(__file__).parent / "sql"
log = get_logger(__name__)


def apply_migrations(dsn: str) -> list[str]:
    """Apply the migrations that are not applied yet; return their ids."""
    backend = get_backend(dsn)
    try:
        migrations = read_migrations(str(SQL_DIR))
        with backend.lock():
            pending = backend.to_apply(migrations)
            backend.apply_migrations(pending)
        applied = [m.id for m in pending]
        if applied:
            log.info("applied migrations", migrations=applied)
        return applied
    finally:
        backend.connection.close()


def applied_migrations(dsn: str) -> list[str]:
    """The ids of every migration recorded as applied."""
    backend = get_backend(dsn)
    try:
        return sorted(m.id for m in read_migrations(str(SQL_DIR)) if backend.is_applied(m))
    finally:
        backend.connection.close()
