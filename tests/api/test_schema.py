"""schemathesis over the OpenAPI schema, authenticated, with bounded examples: no answer is a
server error and every answer (status, media type, body) is one the schema declares."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import Deployment

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="session")
def api_schema(deployment: Deployment) -> Any:
    return schemathesis.openapi.from_asgi("/api/v1/openapi.json", deployment.client.app)


def _user(path: str) -> str:
    """The operator whose role the route is for, so that most examples get past access."""
    if path.startswith(("/api/v1/audit", "/api/v1/reports")):
        return "aud1"
    if path.startswith("/api/v1/subjects"):
        return "sup1"
    return "off1"


def test_every_route_answers_within_its_schema(api_schema: Any, deployment: Deployment) -> None:
    """Generated requests (a bounded number per route, authenticated as the route's role)
    never get a 5xx or an answer the schema does not describe."""
    # schemathesis' own pytest parametrisation needs pytest internals this pytest lacks:
    # each operation is driven through its Hypothesis strategy here instead.
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) == 20  # with the certification POST and GET /purposes
    calls = 0

    def driver(operation: Any) -> Any:
        headers = deployment.headers(_user(operation.path))

        @given(case=operation.as_strategy())
        @settings(
            max_examples=12,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            nonlocal calls
            calls += 1
            case.call_and_validate(headers=headers, checks=CHECKS)

        return run

    for operation in operations:
        driver(operation)()
    assert calls >= 5 * len(operations)  # the examples were really sent
