"""The layout's rules, checked on the source: thin services that never import each other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = [
    "simulator", "ml_consumer", "storage_consumer", "api",
    "streamlit_app", "dash_app", "retrainer", "websocket_viewer",
]  # fmt: skip


def imported_top_level_modules(folder: Path) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in folder.rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_is_a_runnable_package(service: str) -> None:
    assert (ROOT / service / "__init__.py").is_file()
    assert (ROOT / service / "__main__.py").is_file()


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_never_imports_another(service: str) -> None:
    others = set(SERVICES) - {service}
    offending = {
        path: names & others
        for path, names in imported_top_level_modules(ROOT / service).items()
        if names & others
    }
    assert offending == {}


def test_the_shared_package_imports_no_service() -> None:
    offending = {
        path: names & set(SERVICES)
        for path, names in imported_top_level_modules(ROOT / "fraudcore").items()
        if names & set(SERVICES)
    }
    assert offending == {}


def test_the_gpl_mongodb_server_is_never_imported() -> None:
    """SecantusDB (GPL-2.0) runs only as a separate process."""
    for folder in ["fraudcore", "tests", *SERVICES]:
        for path, names in imported_top_level_modules(ROOT / folder).items():
            assert not any(name.lower().startswith("secantus") for name in names), path
