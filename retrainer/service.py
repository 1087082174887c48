"""The retrainer as a service: runs on a schedule (APScheduler) and on request, one at a time.

Two jobs share one worker thread, so they never overlap in this process: the schedule
(``RETRAIN__CRON``, or every ``RETRAIN__EVERY_HOURS``) and a poll every
``RETRAIN__REQUEST_POLL_S`` seconds for runs requested through the API (``POST /retrain``) or
the CLI. Across processes, a lease in MongoDB (:mod:`retrainer.lock`) keeps it to one run.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import UTC, datetime
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from fraudcore.bootstrap import bootstrap
from fraudcore.clients.mongo import mongo_db, wait_mongo
from fraudcore.heartbeat import Heartbeat
from fraudcore.logging import get_logger
from fraudcore.service import stop_event
from fraudcore.settings import Settings
from fraudcore.training import runs
from fraudcore.training.runs import RunRecord, Trigger
from retrainer import lock
from retrainer.run import retrain

log = get_logger("retrainer")
LOCK = "retrainer"


class Retrainer:
    def __init__(self, settings: Settings, db: Any) -> None:
        self.settings = settings
        self.db = db
        self.holder = f"{socket.gethostname()}:{os.getpid()}"

    def run(self, record: RunRecord) -> RunRecord:
        """Run ``record`` if no other run holds the lease; otherwise leave it requested (or skip it)."""
        if not lock.acquire(self.db, LOCK, self.holder, self.settings.retrain.lock_ttl_s):
            other = lock.holder(self.db, LOCK)
            log.info("another retraining run is in progress; this one waits", holder=other, run=record.id)
            record.status, record.reason = "requested", f"waiting: {other} is running one"
            runs.save(self.db, record)
            return record
        try:
            self._fail_abandoned(record.id)
            return retrain(self.settings, self.db, record)
        finally:
            lock.release(self.db, LOCK, self.holder)

    def run_now(self, trigger: Trigger) -> RunRecord:
        record = RunRecord(
            id=runs.request_run(self.db, trigger).id,
            trigger=trigger,
            status="requested",
            requested_at=datetime.now(UTC),
        )
        claimed = runs.claim_request(self.db)  # the oldest request: possibly an earlier one
        return self.run(claimed or record)

    def scheduled(self) -> None:
        self.run_now("schedule")

    def requested(self) -> None:
        claimed = runs.claim_request(self.db)
        if claimed is not None:
            self.run(claimed)

    def _fail_abandoned(self, current: str) -> None:
        """Runs left 'running' by a process that died: no one else holds the lease, so they are dead."""
        self.db[runs.RUNS].update_many(
            {"status": "running", "_id": {"$ne": current}},
            {"$set": {"status": "failed", "reason": "the retrainer stopped during this run"}},
        )


def schedule_trigger(settings: Settings) -> CronTrigger | IntervalTrigger:
    r = settings.retrain
    if r.cron:
        return CronTrigger.from_crontab(r.cron, timezone="UTC")
    return IntervalTrigger(hours=r.every_hours)


def serve(settings: Settings) -> None:
    bootstrap(settings, kafka=False, postgres=False)
    db = mongo_db(wait_mongo(settings, settings.stack.ready_timeout_s), settings)
    retrainer = Retrainer(settings, db)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # the heartbeat has its own thread: a long run in the worker does not make the service look dead
    executors = {"default": ThreadPoolExecutor(1), "heartbeat": ThreadPoolExecutor(1)}
    scheduler = BlockingScheduler(executors=executors, timezone="UTC")
    common = {"max_instances": 1, "coalesce": True, "misfire_grace_time": 3600}
    trigger = schedule_trigger(settings)
    scheduler.add_job(retrainer.scheduled, trigger, id="scheduled", **common)
    poll = IntervalTrigger(seconds=settings.retrain.request_poll_s)
    scheduler.add_job(retrainer.requested, poll, id="requested", **common)
    if settings.heartbeat_file is not None:
        heartbeat = Heartbeat(settings.heartbeat_file, every_s=0)
        heartbeat.beat()
        beat = IntervalTrigger(seconds=10)
        scheduler.add_job(heartbeat.beat, beat, id="heartbeat", executor="heartbeat", **common)
    stop = stop_event()
    threading.Thread(target=lambda: (stop.wait(), scheduler.shutdown(wait=False)), daemon=True).start()
    log.info(
        "retrainer scheduled",
        schedule=settings.retrain.cron or f"every {settings.retrain.every_hours:g} h",
        next_run=str(trigger.get_next_fire_time(None, datetime.now(UTC))),
        models_dir=str(settings.models.dir),
    )
    scheduler.start()
    log.info("retrainer stopped")
