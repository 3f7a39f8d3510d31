"""Every AMAPI payload the suite builds conforms to the bundled discovery document."""

import json

import pytest

from devstack.amapi_emulator import validate
from shared.enrollment.profiles import ADDITIONAL_DATA_LIMIT, additional_data, token_request
from shared.policy.holding_policy import holding_policy, holding_policy_name


def test_holding_policy_is_a_valid_locked_down_policy():
    policy = holding_policy()
    assert validate("Policy", policy) == []
    assert policy["kioskCustomization"]["deviceSettings"] == "SETTINGS_ACCESS_BLOCKED"
    assert policy["statusReportingSettings"]["softwareInfoEnabled"] is True
    assert policy["statusReportingSettings"]["applicationReportsEnabled"] is True


def test_holding_policy_is_per_space():
    assert holding_policy_name("enterprises/E", "paris") == "enterprises/E/policies/holding-paris"


def test_token_request_is_valid_for_dedicated_devices():
    data = additional_data("p1", "global", "kiosk-operator", [{"name": "store", "value": "042"}])
    body = token_request("enterprises/E/policies/holding-global", 30, data)
    assert validate("EnrollmentToken", body) == []
    assert body["allowPersonalUsage"] == "PERSONAL_USAGE_DISALLOWED_USERLESS"
    assert body["duration"] == "2592000s"
    assert json.loads(body["additionalData"])["attrs"] == {"store": "042"}


@pytest.mark.parametrize("value", ["é" * 200, "x" * 256])
def test_additional_data_length_is_what_amapi_counts(value):
    data = additional_data("p1", "global", "u", [{"name": "a", "value": value}])
    assert len(data) < ADDITIONAL_DATA_LIMIT
    assert json.loads(data)["attrs"]["a"] == value


def test_the_validator_catches_what_amapi_would_refuse():
    assert validate("Policy", {"kioskMode": True})
    assert validate("Policy", {"funDisabled": "yes"})
    assert validate("EnrollmentToken", {"allowPersonalUsage": "SOMETIMES"})
