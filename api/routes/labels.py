"""Analyst feedback: a label for a transaction, through the labels topic like every other label.

The API does not write the databases itself: it publishes the label on the ``labels`` topic
and answers 202 once the broker has it. The storage consumer writes it to PostgreSQL and
onto the MongoDB document (where the retrainer reads it), and the scoring consumer learns
from a fraud label that the receiver is bad, exactly as for the simulator's labels.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, status

from api import queries
from api.deps import ApiKeyDep, DbDep, MongoDep, ProducerDep, SettingsDep
from api.schemas import LabelAccepted, LabelIn
from fraudcore.schemas import Label, encode

router = APIRouter(tags=["analyst feedback"])
SEND_TIMEOUT_S = 10


@router.post(
    "/labels",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=LabelAccepted,
    responses={
        401: {"description": "no X-API-Key header"},
        403: {"description": "wrong API key"},
        404: {"description": "no such transaction"},
        503: {"description": "Kafka or PostgreSQL is not answering"},
    },
)
def post_label(
    body: LabelIn,
    _key: ApiKeyDep,
    settings: SettingsDep,
    db: DbDep,
    mongo: MongoDep,
    producer: ProducerDep,
) -> LabelAccepted:
    """Label a transaction fraud or not (needs the `X-API-Key` header); stored within seconds."""
    known = queries.exists(db, body.tx_id) or mongo["transactions"].count_documents(
        {"_id": body.tx_id}, limit=1
    )
    if not known:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no transaction {body.tx_id!r} to label")
    label = Label(
        tx_id=body.tx_id,
        is_fraud=body.is_fraud,
        typology=body.typology,
        source="analyst",
        labelled_at=datetime.now(UTC),
        note=body.note,
        analyst=body.analyst,
    )
    try:
        producer.send(settings.topics.labels.name, key=label.tx_id.encode(), value=encode(label)).get(
            timeout=SEND_TIMEOUT_S
        )
    except Exception as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"Kafka did not take the label ({type(exc).__name__}); nothing was recorded, try again",
        ) from exc
    return LabelAccepted(
        label=label, detail="published on the labels topic; the storage consumer writes it within seconds"
    )
