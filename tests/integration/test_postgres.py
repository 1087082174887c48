"""A round trip through the embedded PostgreSQL server, and the migrations."""

from __future__ import annotations

from datetime import UTC, datetime

from fraudcore.clients.postgres import connect_postgres
from fraudcore.migrations import SQL_DIR, applied_migrations, apply_migrations
from fraudcore.schemas import ScoredTransaction
from fraudcore.settings import Settings


def test_every_migration_is_applied_once_and_recorded(settings: Settings) -> None:
    dsn = str(settings.postgres.dsn)
    expected = sorted(p.stem for p in SQL_DIR.glob("*.sql"))
    assert applied_migrations(dsn) == expected
    assert apply_migrations(dsn) == []  # a second bootstrap applies nothing
    with connect_postgres(settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT migration_id FROM _yoyo_migration ORDER BY migration_id")
        assert [row[0] for row in cur.fetchall()] == expected
    conn.close()


def test_the_scored_transactions_table_holds_every_message_field(settings: Settings) -> None:
    with connect_postgres(settings) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'scored_transactions'"
        )
        columns = {row[0] for row in cur.fetchall()}
    conn.close()
    assert set(ScoredTransaction.model_fields) <= columns


def test_rows_round_trip(settings: Settings) -> None:
    now = datetime(2026, 11, 29, 8, tzinfo=UTC)
    conn = connect_postgres(settings)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                """INSERT INTO scored_transactions (tx_id, event_time, sender_account_id, sender_address,
                       receiver_address, amount, amount_usd, score, predicted_fraud, threshold,
                       model_version, reasons, scored_at)
                   VALUES (%s, %s, 'a', 's', 'r', 1, 2, 0.9, true, 0.5, 'v1', %s, %s)
                   ON CONFLICT (tx_id) DO NOTHING""",
                ("pg-rt-1", now, ["amount 14x this wallet's median"], now),
            )
        with conn.cursor() as cur:
            cur.execute(
                "SELECT event_time, reasons, predicted_fraud FROM scored_transactions WHERE tx_id = %s",
                ("pg-rt-1",),
            )
            assert cur.fetchone() == (now, ["amount 14x this wallet's median"], True)
    finally:
        conn.close()
