"""Schemathesis against /openapi.json on the local stack: generated requests to every operation, and
no answer may be a server error. `FUZZ_EXAMPLES` per operation (15 here; 50 gives over 1,000 requests)."""

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

pytestmark = pytest.mark.e2e
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))


def test_no_generated_request_gets_a_server_error(stack):
    schema = schemathesis.openapi.from_url(f"{stack.url}/openapi.json")
    headers = {"Authorization": f"Bearer {stack.key}"}
    sent = 0
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
        def check(case):
            nonlocal sent
            response = case.call(headers=headers, timeout=30)
            sent += 1
            case.validate_response(response, checks=(not_a_server_error,))

        check()
    print(f"\n{sent} generated requests over {len(operations)} operations, no server error")
    assert sent >= len(operations) * 2
