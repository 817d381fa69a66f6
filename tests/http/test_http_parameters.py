"""Every endpoint refuses a query parameter it does not declare, and every malformed one, with a
400 naming it: a typo is never taken for "no such filter", a garbled time never for "now"
(docs/http.md, "Lists and pages")."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.support.http_api import assert_problem


def endpoints(client: TestClient) -> list[tuple[str, str]]:
    """(method, path) of every endpoint the OpenAPI document declares, path parameters filled in."""
    paths = client.get("/openapi.json").json()["paths"]
    return [
        (method.upper(), re.sub(r"\{[a-z_]+\}", "1", path))
        for path, operations in paths.items()
        for method in operations
    ]


def test_every_endpoint_refuses_a_parameter_it_does_not_declare(client: TestClient) -> None:
    routes = endpoints(client)
    assert ("GET", "/pnl") in routes and ("POST", "/messages") in routes and len(routes) >= 20
    for method, path in routes:
        response = client.request(method, path, params={"bogus": "1"})
        body = assert_problem(response, 400, "query parameter bogus is not known here")
        assert "\n" not in body["detail"]


@pytest.mark.parametrize(
    ("path", "query", "named"),
    [
        ("/pnl", {"as_of": "garbage"}, "as_of"),  # /pnl takes no time: the parameter is unknown
        ("/pnl/daily", {"since": "garbage"}, "since"),
        ("/pnl", {"by": "sideways"}, "by"),
        ("/pnl/daily", {"cost_basis": "lifo-ish"}, "cost basis 'lifo-ish'"),
        ("/pnl/series", {"points": "many"}, "points"),
        ("/positions", {"as_of": "garbage"}, "as_of"),
        ("/orders", {"as_of": "2026-13-01T00:00:00Z"}, "as_of"),
        ("/lots", {"as_of": "garbage"}, "as_of"),
        ("/analytics/execution", {"by": "nothing-like-it"}, "by"),
    ],
)
def test_a_malformed_or_unknown_parameter_is_a_400_naming_it(
    client: TestClient, path: str, query: dict[str, str], named: str
) -> None:
    assert_problem(client.get(path, params=query), 400, named)
