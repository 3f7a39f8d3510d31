"""schemathesis over every HTTP function's OpenAPI document: no input makes a server error.

Each operation gets a bounded number of generated requests, valid ones (positive) and ones that
break its schema (negative), sent with an administrator's token to the function as
functions-framework serves it, on the emulators. `FUZZ_EXAMPLES` sets the number per operation
and mode (default 40, 1.5 to 3 minutes on two cores); `FUZZ_SEED` draws other examples than the
fixed default ones, e.g. `FUZZ_EXAMPLES=200 FUZZ_SEED=7 pytest tests/fuzz -s` by hand.
"""

import os
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.conftest import token_for

AUTH = {"Authorization": f"Bearer {token_for('admin@example.com')}"}
EXAMPLES_PER_OPERATION = int(os.environ.get("FUZZ_EXAMPLES", "40"))
SEED = os.environ.get("FUZZ_SEED")
TARGETS = ["enroll", "policy", "commands"]

# Bodies no generator writes: what JSON parsers accept but no store keeps.
HOSTILE_BODIES = [
    b'{"name": "\\ud800"}',
    b'{"\\udfff": 1}',
    b'{"name": NaN}',
    b'{"priority": Infinity, "x": -Infinity}',
    b'{"a": ' + b"[" * 2_000 + b"]" * 2_000 + b"}",
    b'{"a": ' * 50_000,
    b"\xed\xa0\x80",
]


def _operations(app):
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    return [result.ok() for result in schema.get_all_operations()]


def _exercise(operation, mode, sent, failures):
    def check(case):
        # A generated Authorization header would only ever test the 401 path.
        case.headers = {**(case.headers or {}), **AUTH}
        response = case.call()
        sent[response.status_code // 100] += 1
        if response.status_code >= 500:
            failures.append((mode.value, case.method, case.formatted_path, case.query,
                             case.body, response.text[:300]))

    options = settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None,
                       derandomize=SEED is None, database=None,
                       suppress_health_check=list(HealthCheck))
    run = options(given(case=operation.as_strategy(generation_mode=mode))(check))
    if SEED is not None:
        run = seed(int(SEED))(run)
    try:
        run()
    except Unsatisfiable:
        # Nothing of the operation can break its schema (no body, no constrained parameter).
        if mode is not GenerationMode.NEGATIVE:
            raise


@pytest.mark.parametrize("target", TARGETS)
def test_no_generated_request_causes_a_server_error(target, function_apps, firestore,
                                                    amapi_emulator):
    app = function_apps[target]
    operations = _operations(app)
    documented = app.test_client().get("/openapi.json").get_json()["paths"]
    labels = {f"{method.upper()} {path}" for path, methods in documented.items()
              for method in methods if path != "/openapi.json"}
    assert {operation.label for operation in operations} == labels and len(labels) > 2
    failures: list = []
    per_operation = {}
    for operation in operations:
        sent: Counter = Counter()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _exercise(operation, mode, sent, failures)
        per_operation[operation.label] = sent
    total = sum(sum(sent.values()) for sent in per_operation.values())
    print(f"\n{target}: {len(operations)} operations, {total} requests, "
          f"{sum(sent[4] for sent in per_operation.values())} 4xx, "
          f"{sum(sent[5] for sent in per_operation.values())} server errors")
    assert [label for label, sent in per_operation.items() if not sent] == []
    assert failures == []


@pytest.mark.parametrize("target", TARGETS)
def test_no_hostile_body_causes_a_server_error(target, function_apps, firestore, amapi_emulator):
    app = function_apps[target]
    client = app.test_client()
    documented = client.get("/openapi.json").get_json()["paths"]
    failures = []
    with_bodies = 0
    for path, methods in documented.items():
        for method, operation in methods.items():
            if "requestBody" not in operation:
                continue
            with_bodies += 1
            concrete = path.replace("{", "").replace("}", "")  # each id is its own name
            for raw in HOSTILE_BODIES:
                response = client.open(concrete, method=method.upper(), data=raw, headers={
                    **AUTH, "Content-Type": "application/json"})
                if response.status_code >= 500:
                    failures.append((method, concrete, raw[:40], response.text[:300]))
                elif response.status_code == 400:
                    assert response.get_json()["error"]["details"], (method, concrete, raw[:40])
    assert with_bodies > 0
    assert failures == []
