"""Liveness (the process answers) and readiness (each dependency answers)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.deps import SettingsDep
from fraudcore.health import DependencyStatus, check_dependencies

router = APIRouter(prefix="/health", tags=["health"])


class Liveness(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    dependencies: list[DependencyStatus]


@router.get("/live", response_model=Liveness)
def live() -> Liveness:
    """The process is up and serving requests."""
    return Liveness(status="ok")


@router.get("/ready", response_model=Readiness, responses={503: {"model": Readiness}})
def ready(settings: SettingsDep) -> JSONResponse:
    """Every dependency (Kafka, MongoDB, PostgreSQL, Redis) answers; 503 naming those that do not."""
    deps = check_dependencies(settings)
    ok = all(d.ok for d in deps)
    body = Readiness(status="ok" if ok else "degraded", dependencies=deps)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)
