"""schemathesis over every HTTP function's OpenAPI document: no input makes a server error.

Each operation gets a bounded number of generated requests (valid and invalid ones), sent with
an administrator's token to the function as functions-framework serves it, on the emulators.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.conftest import token_for

AUTH = {"Authorization": f"Bearer {token_for('admin@example.com')}"}
EXAMPLES_PER_OPERATION = 12


@pytest.mark.parametrize("target", ["enroll", "policy", "commands"])
def test_no_generated_request_causes_a_server_error(target, function_apps, firestore,
                                                    amapi_emulator):
    schema = schemathesis.openapi.from_wsgi("/openapi.json", function_apps[target])
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 2
    failures = []
    for operation in operations:

        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True,
                  database=None, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def exercise(case):
            response = case.call(headers=AUTH)
            if response.status_code >= 500:
                failures.append((case.method, case.formatted_path, case.body,
                                 response.text[:300]))

        exercise()
    assert failures == []
