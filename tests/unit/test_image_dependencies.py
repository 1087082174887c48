"""The Docker `app` image has no ML libraries: the services it runs must not import them.

(docker/Dockerfile: `app` for the API, the storage consumer, the simulator and the dashboards;
`ml` adds TensorFlow, XGBoost and scikit-learn for the scoring consumer and the retrainer.)
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ML_LIBRARIES = ("tensorflow", "keras", "xgboost", "sklearn", "scipy", "matplotlib")
APP_IMAGE_MODULES = ("api.main", "storage_consumer.app", "simulator.cli", "streamlit_app.client")


def test_the_app_image_services_import_no_ml_library() -> None:
    code = (
        "import importlib, sys\n"
        f"for name in {APP_IMAGE_MODULES!r}: importlib.import_module(name)\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({ML_LIBRARIES!r})))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[]", f"imported by the app image's services: {done.stdout.strip()}"
