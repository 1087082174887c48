"""`python -m websocket_viewer`."""

from fraudcore.service import not_built_yet

not_built_yet("websocket_viewer", issue=7)
