"""The Docker images' requirement files stay subsets of requirements.lock that cover their dependencies.

`make lock` writes all three; a dependency added to pyproject.toml without re-running it would
build images that cannot import it (it happened once: librdkafka's client was missing).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def pins(path: Path) -> dict[str, str]:
    found = re.findall(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s;]+)", path.read_text(), re.M)
    return {re.sub(r"\[.*\]", "", name).lower().replace("_", "-"): version for name, version in found}


def names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0].lower().replace("_", "-") for r in requirements}


def test_each_image_pins_what_the_lock_pins_and_everything_it_needs() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lock = pins(ROOT / "requirements.lock")
    app, ml = pins(ROOT / "docker" / "requirements-app.txt"), pins(ROOT / "docker" / "requirements-ml.txt")
    for image, needed in (
        (app, names(project["dependencies"])),
        (ml, names(project["dependencies"]) | names(project["optional-dependencies"]["ml"])),
    ):
        assert needed <= image.keys(), (
            f"missing from an image: {sorted(needed - image.keys())}; run make lock"
        )
        assert {k: v for k, v in image.items() if k in lock} == {k: lock[k] for k in image if k in lock}
