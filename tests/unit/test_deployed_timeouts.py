"""Each function is deployed with a --timeout that covers its worst case (cloudbuild.yaml)."""

import pathlib
import re

import pytest

from shared import config
from shared.amapi.client import BACKGROUND_RETRY, BACKGROUND_RUN_SECONDS

BUILD = (pathlib.Path(__file__).resolve().parents[2] / "cloudbuild.yaml").read_text()


def deployed_timeouts():
    timeouts = {name: int(seconds) for name, _, seconds in
                re.findall(r"([a-z-]+):([a-z_]+):(\d+)", BUILD)}
    for event_driven in ("notifications", "rollouts"):
        found = re.search(rf"deploy {event_driven} .*?--timeout=(\d+)s", BUILD, re.S)
        assert found, event_driven
        timeouts[event_driven] = int(found.group(1))
    return timeouts


@pytest.fixture
def deployed(monkeypatch):
    """The settings a deployed function runs with (the tests shorten the budgets)."""
    for name in ("AMAPI_RETRY_BUDGET_SECONDS", "AMAPI_TIMEOUT_SECONDS",
                 "FIRESTORE_RETRY_BUDGET_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    config.settings.cache_clear()
    yield config.settings()
    monkeypatch.undo()
    config.settings.cache_clear()


def test_every_function_is_deployed_with_a_timeout():
    assert set(deployed_timeouts()) == {"enroll", "expire-tokens", "policy", "commands",
                                        "reconcile-commands", "notifications", "rollouts",
                                        "mcp"}
    assert '--timeout="${timeout}s"' in BUILD


def test_a_scheduled_run_ends_before_its_function_is_cut_off(deployed):
    in_flight = BACKGROUND_RETRY.budget_seconds + deployed.amapi_timeout_seconds
    firestore_stalls = 2 * deployed.firestore_retry_budget_seconds
    for name in ("expire-tokens", "reconcile-commands"):
        assert deployed_timeouts()[name] >= BACKGROUND_RUN_SECONDS + in_flight + firestore_stalls


def test_an_interactive_function_outlasts_a_push_that_stalls(deployed):
    per_call = deployed.amapi_retry_budget_seconds + deployed.amapi_timeout_seconds
    lease_wait = 25
    for name in ("policy", "commands", "notifications", "mcp"):
        assert deployed_timeouts()[name] >= lease_wait + 4 * per_call


def test_a_rollout_worker_stops_between_steps_before_its_function_is_cut_off(deployed):
    from shared.policy.rollout_worker import LEASE_WAIT_SECONDS

    # The worker starts batches until its slice is over; the last one waits at most a budget
    # window for its calls and LEASE_WAIT_SECONDS for the space, then stops between steps: one
    # AMAPI call in flight and the checkpoint's Firestore stalls at most.
    per_call = deployed.amapi_retry_budget_seconds + deployed.amapi_timeout_seconds
    worst = (deployed.rollout_slice_seconds + deployed.amapi_budget_window_seconds
             + LEASE_WAIT_SECONDS + per_call + 3 * deployed.firestore_retry_budget_seconds)
    assert deployed_timeouts()["rollouts"] >= worst
