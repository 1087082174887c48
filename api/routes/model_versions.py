"""The model versions in the registry, with their metrics and which one scores now."""

from __future__ import annotations

import json
from pathlib import Path as FsPath
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, status

from api.deps import SettingsDep
from api.schemas import ModelInfo
from fraudcore.models.registry import ModelError, latest_approved, read_manifest, versions

router = APIRouter(prefix="/models", tags=["models"])


def _info(folder: FsPath, name: str, current: str | None) -> ModelInfo:
    manifest = read_manifest(folder, name)
    metrics: dict[str, Any] | None = None
    metrics_file = folder / name / manifest.get("files", {}).get("metrics", "metrics.json")
    if metrics_file.is_file():
        metrics = json.loads(metrics_file.read_text())
    return ModelInfo(
        version=name,
        created_at=manifest.get("created_at"),
        approved=bool(manifest.get("approved")),
        approval=manifest.get("approval"),
        current=name == current,
        threshold=manifest.get("threshold"),
        training_window=manifest.get("training_window"),
        validation=manifest.get("validation"),
        metrics=metrics,
    )


@router.get("", response_model=list[ModelInfo])
def list_models(settings: SettingsDep) -> list[ModelInfo]:
    """Every version, newest first; `current` marks the one the scoring consumer uses."""
    folder = settings.models.dir
    current = latest_approved(folder)
    out = []
    for name in reversed(versions(folder)):
        try:
            out.append(_info(folder, name, current))
        except (ModelError, ValueError):
            continue  # a damaged manifest: not a version anyone can use
    return out


@router.get("/{version}", response_model=ModelInfo, responses={404: {"description": "no such version"}})
def get_model(
    settings: SettingsDep, version: Annotated[str, Path(pattern=r"^v\d{1,8}$", description="e.g. v0001")]
) -> ModelInfo:
    folder = settings.models.dir
    if version not in versions(folder):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no model version {version} in {folder}")
    return _info(folder, version, latest_approved(folder))
