import pytest

from shared.policy.effective_policy import PolicyChoice, SpaceInputs, choose, policy_name, targets
from shared.store.versioned import Stored

DEVICE = {"id": "abc123", "name": "enterprises/E/devices/abc123", "userName": "front-desk",
          "labels": ["lobby", "floor-1"]}


@pytest.mark.parametrize(("distribution", "expected"), [
    ({"mode": "ALL"}, True),
    ({"mode": "NONE"}, False),
    (None, False),
    ({"mode": "CUSTOM", "deviceIds": ["abc123"]}, True),
    ({"mode": "CUSTOM", "deviceIds": ["enterprises/E/devices/abc123"]}, True),
    ({"mode": "CUSTOM", "labels": ["floor-1"]}, True),
    ({"mode": "CUSTOM", "userNames": ["front-desk"]}, True),
    ({"mode": "CUSTOM", "labels": ["kitchen"], "userNames": ["chef"], "deviceIds": ["x"]}, False),
])
def test_distribution_targets(distribution, expected):
    assert targets(distribution, DEVICE) is expected


def config(config_id, priority, created, mode="ALL"):
    return Stored(config_id, {"priority": priority, "createTime": created,
                              "distribution": {"mode": mode}})


def test_highest_priority_wins_then_the_oldest():
    inputs = SpaceInputs(configs={
        "a": config("a", 5, "2026-01-01"), "b": config("b", 9, "2026-03-01"),
        "c": config("c", 9, "2026-02-01"), "d": config("d", 99, "2026-01-01", mode="NONE")})
    assert choose(DEVICE, inputs).config_id == "c"


def test_apps_wifi_and_oldest_vpn_are_collected_in_stable_order():
    inputs = SpaceInputs(
        apps={"com.b": Stored("x", {"distribution": {"mode": "ALL"}}),
              "com.a": Stored("y", {"distribution": {"mode": "CUSTOM", "labels": ["lobby"]}}),
              "com.c": Stored("z", {"distribution": {"mode": "NONE"}})},
        wifi={"w2": Stored("w2", {"distribution": {"mode": "ALL"}}),
              "w1": Stored("w1", {"distribution": {"mode": "ALL"}})},
        vpn={"v2": Stored("v2", {"createTime": "2026-02-01", "distribution": {"mode": "ALL"}}),
             "v1": Stored("v1", {"createTime": "2026-01-01", "distribution": {"mode": "ALL"}})})
    choice = choose(DEVICE, inputs)
    assert choice == PolicyChoice(None, ("com.a", "com.b"), ("w1", "w2"), "v1")


def test_equal_inputs_share_a_key_and_content_does_not_change_it():
    first = PolicyChoice("cfg", ("com.a",), ("w1",), None)
    assert first.key == PolicyChoice("cfg", ("com.a",), ("w1",), None).key
    assert first.key != PolicyChoice("cfg", ("com.a", "com.b"), ("w1",), None).key
    assert PolicyChoice(None).key is None
    assert policy_name("enterprises/E", "k1") == "enterprises/E/policies/cosu-k1"
