"""WebSocket viewer: a self-contained HTML page showing the API's live transaction stream."""
