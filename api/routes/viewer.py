"""``/viewer``: the self-contained WebSocket viewer page (``websocket_viewer/index.html``)."""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(tags=["viewer"])


def viewer_page() -> str:
    """The page as shipped; it finds the WebSocket on the host that served it."""
    return files("websocket_viewer").joinpath("index.html").read_text(encoding="utf-8")


@router.get("/viewer", response_class=HTMLResponse)
def viewer() -> HTMLResponse:
    """A live table of scored transactions over the WebSocket, with filters and reconnects."""
    return HTMLResponse(viewer_page())
