"""The README's PostgreSQL queries run as written, on what the storage processor stored."""

from __future__ import annotations

import re
from pathlib import Path

from fraudcore.schemas import encode
from tests.integration.stores import Storage, feed, simulated_scored

ROOT = Path(__file__).resolve().parents[3]


def readme_sql() -> str:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Storage") :]
    match = re.search(r"```sql\n(.*?)```", section, re.S)
    assert match, "the Storage section has an sql block"
    return match.group(1)


def test_docs_queries_file_is_the_readme_block() -> None:
    body = (ROOT / "docs" / "queries.sql").read_text().split("\n", 1)[1]
    assert body == readme_sql()


def test_each_readme_query_runs_and_answers(storage: Storage) -> None:
    txs, labels = simulated_scored(2000, seed=65)
    topics = storage.settings.topics
    feed(storage, [encode(t) for t in txs], topics.legit.name)
    feed(storage, [encode(x) for x in labels], topics.labels.name)
    statements = [q.strip() for q in readme_sql().split(";") if q.strip()]
    assert len(statements) == 4
    answers = [storage.rows(q) for q in statements]
    by_typology = dict((t, n) for t, n, _ in answers[0])
    assert sum(by_typology.values()) == len({x.tx_id for x in labels})
    assert all(t != "unknown" for t in by_typology)
    assert answers[1] and answers[1][0][4] >= answers[1][-1][4]  # highest score first
    [(version, alerts, true_alerts, labelled, precision, recall)] = answers[2]
    assert version == "v0001" and labelled == len(labels)
    assert true_alerts == alerts and precision == 1  # the test's scores: 0.9 exactly for the fraud
    assert 0 < recall <= 1
    assert answers[3]
