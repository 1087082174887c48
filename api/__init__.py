"""FastAPI service: REST, WebSocket live stream, analyst feedback; health and metrics."""
