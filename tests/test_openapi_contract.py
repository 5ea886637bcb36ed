"""Schemathesis against /api/v1/openapi.json: generated requests to every documented
operation, with a real API key, answer without a 5xx and as the document says (status
code, content type, body schema). Bounded: a few examples per operation, no shrinking
beyond what a failure needs, so the run stays well under a minute."""
from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import (
    content_type_conformance, not_a_server_error, response_schema_conformance, status_code_conformance,
)

from spanlens.requestlog import queries
from tests.seed import make_row

EXAMPLES = 4
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def api_schema(db):
    # The WSGI handler closes the connection after each request, which would end the test's
    # transaction; Django's own test client disconnects the same signal.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def key_header(api_key, org, project):
    queries.insert_requests([make_row(org, project, model="gpt-4o-mini") for _ in range(2)])
    return {"Authorization": f"Bearer {api_key[1]}"}


def _check(operation, headers: dict) -> str | None:
    """The first failure among up to EXAMPLES generated cases, or None (no shrinking: bounded)."""

    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck), report_multiple_bugs=False)
    def run(case):
        case.call_and_validate(headers=headers, checks=CHECKS)

    try:
        run()
    except Exception as exc:
        return str(exc)[:3000]
    return None


def test_every_operation_answers_as_documented(api_schema, key_header):
    failures = {}
    for result in api_schema.get_all_operations():
        operation = result.ok()
        failure = _check(operation, key_header)
        if failure:
            failures[operation.label] = failure
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
