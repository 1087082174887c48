"""The Streamlit app's only way to the data: the REST API (never a database, never another service)."""

from __future__ import annotations

from typing import Any

import httpx


class ApiDown(RuntimeError):
    """The API did not answer, or answered with an error; the message says what to do."""


class ApiClient:
    def __init__(self, base_url: str, api_key: str = "", timeout_s: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = httpx.Client(base_url=self.base_url, timeout=timeout_s)
        self.api_key = api_key

    def get(self, path: str, **params: Any) -> Any:
        clean = {k: v for k, v in params.items() if v is not None and v != ""}
        return self._call("GET", path, params=clean)

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self._call("POST", path, json=body, headers={"X-API-Key": self.api_key})

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiDown(
                f"The API at {self.base_url} is not answering ({type(exc).__name__}). "
                "Start the stack with `make up` (or `docker compose up`); this page retries by itself."
            ) from exc
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail")
            except ValueError:
                detail = response.text[:300]
            raise ApiDown(f"The API answered {response.status_code} to {method} {path}: {detail}")
        return response.json()
