"""`.env.example` is a valid configuration: every variable in it is a setting, and it loads."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic_settings import BaseSettings

from fraudcore.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_ONLY = {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB", "MONGO_ROOT_USER", "MONGO_ROOT_PASSWORD"}


def known(model: type[BaseSettings] | type, prefix: str = "") -> set[str]:
    names = set()
    for name, field in model.model_fields.items():  # type: ignore[attr-defined]
        annotation = field.annotation
        if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
            names |= known(annotation, f"{prefix}{name.upper()}__")
        names.add(f"{prefix}{name.upper()}")
    return names


def test_every_variable_is_a_setting_and_the_file_loads() -> None:
    text = (ROOT / ".env.example").read_text()
    variables = re.findall(r"^([A-Z][A-Z0-9_]*)=", text, re.M)
    settings_vars = [v for v in variables if "__" in v or v in {"ENVIRONMENT", "LOG_LEVEL", "LOG_FORMAT"}]
    unknown = set(settings_vars) - known(Settings) - {v for v in settings_vars if v.startswith("TOPICS__")}
    assert not unknown, f".env.example names settings that do not exist: {sorted(unknown)}"
    assert load_settings(_env_file=ROOT / ".env.example").api.port == 8000
    assert (
        not set(variables)
        - set(settings_vars)
        - COMPOSE_ONLY
        - {v for v in variables if v.endswith("_PORT") or v in {"MODEL_INIT_COUNT", "HEARTBEAT_FILE"}}
    )
