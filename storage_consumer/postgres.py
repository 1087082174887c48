"""The storage consumer's PostgreSQL writes: scored transactions and labels, idempotent.

Scored transactions are inserted with one ``INSERT … ON CONFLICT (tx_id) DO NOTHING RETURNING
tx_id``: a batch read again after a crash inserts nothing twice, and the ids that come back are
exactly the rows that are new (the live views count only those). The batch travels as one JSON
array, made of the messages as they arrived (validated against the schema, not serialised
again), that PostgreSQL turns into rows itself (``json_populate_recordset``): building a literal
for each of 28 columns of each row in Python was a third of this process's CPU at 5,000 tx/s.
Labels are upserted on ``(tx_id, source)``, keeping the most recent; a label may arrive before
its transaction (no foreign key): a join finds it once the transaction is stored.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any

import psycopg2
from psycopg2.extensions import connection as PgConnection
from psycopg2.extras import execute_values

from fraudcore.schemas import Label, ScoredTransaction

TX_COLUMNS: tuple[str, ...] = tuple(ScoredTransaction.model_fields)
LABEL_COLUMNS: tuple[str, ...] = tuple(Label.model_fields)

INSERT_SCORED = (
    f"INSERT INTO scored_transactions ({', '.join(TX_COLUMNS)}) "
    f"SELECT {', '.join(TX_COLUMNS)} FROM json_populate_recordset(NULL::scored_transactions, %s::json) "
    "ON CONFLICT (tx_id) DO NOTHING RETURNING tx_id"
)
UPSERT_LABELS = (
    f"INSERT INTO labels ({', '.join(LABEL_COLUMNS)}) VALUES %s "
    "ON CONFLICT (tx_id, source) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in LABEL_COLUMNS if c not in {"tx_id", "source"})
    + ", received_at = now() WHERE labels.labelled_at <= EXCLUDED.labelled_at"
)


def _value(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def _row(message: Any, columns: tuple[str, ...]) -> tuple[Any, ...]:
    values = message.__dict__
    return tuple(_value(values.get(c)) for c in columns)


class PostgresWriter:
    """One connection, reopened after a failure; each batch is one transaction."""

    def __init__(self, connect: Callable[[], PgConnection]) -> None:
        self.connect = connect
        self.conn: PgConnection | None = None

    def write(self, scored: list[bytes], labels: list[Label]) -> set[str]:
        """Insert ``scored`` and upsert ``labels`` in one transaction; return the tx_ids that were new.

        ``scored``: the scored transactions as the JSON objects they arrived as, each validated
        against :class:`ScoredTransaction` already (the storage consumer decodes every message).
        """
        conn = self._connection()
        try:
            with conn.cursor() as cur:
                new: set[str] = set()
                if scored:
                    cur.execute(INSERT_SCORED, ((b"[" + b",".join(scored) + b"]").decode(),))
                    new = {r[0] for r in cur.fetchall()}
                if labels:
                    execute_values(
                        cur, UPSERT_LABELS, [_row(x, LABEL_COLUMNS) for x in labels], page_size=1000
                    )
            conn.commit()
            return new
        except psycopg2.Error:
            self._discard()
            raise

    def _connection(self) -> PgConnection:
        if self.conn is None or self.conn.closed:
            self.conn = self.connect()
        return self.conn

    def _discard(self) -> None:
        """After an error: roll back if the connection still lives, else forget it (reconnect next time)."""
        if self.conn is None:
            return
        try:
            if self.conn.closed:
                self.conn = None
            else:
                self.conn.rollback()
        except psycopg2.Error:
            self.conn = None

    def close(self) -> None:
        if self.conn is not None and not self.conn.closed:
            self.conn.close()
