"""Hostile requests against every operation in the API's own OpenAPI spec (hypothesis).

Whatever the parameters, bodies or headers, the API answers with a status below 500, and a 4xx
carries a JSON ``detail`` that says what was wrong. Nothing reaches the database unparameterised.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.api.conftest import Served

HOSTILE_TEXT = st.one_of(
    st.text(max_size=40),
    st.text(min_size=1000, max_size=5000),
    st.sampled_from(
        [
            "",
            " ",
            "' OR '1'='1",
            "1; DROP TABLE scored_transactions; --",
            "%00",
            "\u202e\u0000",
            "../../etc/passwd",
            "null",
            "NaN",
            "-1",
            "1e999",
            "0x" + "f" * 300,
            "2026-13-45T99:99:99Z",
            "{}",
            "[]",
        ]
    ),
)
HOSTILE_NUMBER = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
).map(lambda x: "nan" if isinstance(x, float) and math.isnan(x) else str(x))
VALUE = st.one_of(HOSTILE_TEXT, HOSTILE_NUMBER, st.booleans().map(str))
JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=50)),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=10,
)


def operations(served: Served) -> list[tuple[str, str, list[dict[str, Any]]]]:
    spec = served.client.get("/openapi.json").json()
    found = []
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            found.append((method.upper(), path, op.get("parameters", [])))
    return found


def check(response: Any, what: str) -> None:
    assert response.status_code < 500, f"{what}: {response.status_code} {response.text[:300]}"
    if 400 <= response.status_code < 500:
        assert response.json()["detail"], what


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_get_operation_survives_hostile_parameters(served: Served, data: st.DataObject) -> None:
    gets = [op for op in operations(served) if op[0] == "GET"]
    _, path, parameters = data.draw(st.sampled_from(gets))
    query: dict[str, str] = {}
    for parameter in parameters:
        value = data.draw(VALUE)
        if parameter["in"] == "path":
            path = path.replace("{" + parameter["name"] + "}", quote(value, safe="") or "x")
        elif parameter["in"] == "query" and data.draw(st.booleans()):
            query[parameter["name"]] = value
    check(served.client.get(path, params=query), f"GET {path} {query}")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=JSON, key=st.sampled_from(["test-key", "", "wrong", "test-key\u0000"]))
def test_posting_hostile_labels_never_breaks_the_api(served: Served, body: Any, key: str) -> None:
    try:
        headers = {"X-API-Key": key}
        response = served.client.post("/labels", json=body, headers=headers)
    except ValueError:  # a header value httpx itself refuses to send
        return
    check(response, f"POST /labels {body!r}")
    if key != "test-key":
        assert response.status_code in (401, 403, 422)
