"""Faults whose call took effect before its answer was lost (an ambiguous 500 or timeout)."""

from __future__ import annotations

from typing import Any

import pytest
from googleapiclient.errors import HttpError

from .harness import ENTERPRISE, ControlClient

POLICY = f"{ENTERPRISE}/policies/p"


def test_an_after_effect_fault_fails_the_call_but_keeps_its_effect(
        amapi: Any, control: ControlClient) -> None:
    rule = control.ok("POST", "faults", {"probability": 1, "codes": [500], "afterEffect": True,
                                         "methods": ["enterprises.policies.patch"]})
    assert rule["afterEffect"] is True

    with pytest.raises(HttpError) as caught:
        amapi.enterprises().policies().patch(name=POLICY, body={"funDisabled": True}).execute()
    control.ok("DELETE", "faults")

    assert caught.value.status_code == 500
    assert amapi.enterprises().policies().get(name=POLICY).execute()["funDisabled"] is True
    logged = [r for r in control.ok("GET", "requests")["requests"]
              if r["method"] == "enterprises.policies.patch"]
    assert [r["status"] for r in logged] == [500]


def test_after_effect_must_be_a_boolean(control: ControlClient) -> None:
    status, payload = control.call("POST", "faults", {"probability": 1, "codes": [500],
                                                      "afterEffect": "yes"})

    assert status == 400
    assert "afterEffect" in payload["error"]["message"]
