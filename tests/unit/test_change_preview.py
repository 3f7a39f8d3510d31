"""What a change would do, shown from its plan: counts, fields changed, secrets masked."""

from shared.policy.change_preview import changed_fields, preview
from shared.policy.push_plan import DeviceMove, Plan, PolicyUpdate

E = "enterprises/e"


def update(key, policy, previous_policy=None):
    previous = None if previous_policy is None else {"policy": previous_policy}
    return PolicyUpdate(key, f"{E}/policies/cosu-{key}", policy, {}, previous)


def test_nested_objects_compare_field_by_field_and_lists_whole():
    before = {"a": 1, "kiosk": {"statusBar": "HIDDEN", "power": "BLOCKED"}, "apps": [1, 2]}
    after = {"kiosk": {"statusBar": "ENABLED", "power": "BLOCKED"}, "apps": [1, 3], "b": True}
    assert changed_fields(before, after) == [
        ("a", 1, None), ("apps", [1, 2], [1, 3]), ("b", None, True),
        ("kiosk.statusBar", "HIDDEN", "ENABLED")]
    assert changed_fields(after, after) == []


def test_counts_come_from_the_plan_and_a_large_one_is_a_rollout():
    plan = Plan(updates=[update("g", {"funDisabled": True}, {"funDisabled": False})],
                moves=[DeviceMove(f"{E}/devices/d{i}", "g", f"{E}/policies/cosu-g", "old")
                       for i in range(30)])
    shown = preview(plan, {}, inline_limit=25)
    assert shown["plan"] == {"policiesPatched": 1, "devicesMoved": 30, "amapiCalls": 31,
                             "rollout": True, "sampleDevices": [f"d{i}" for i in range(10)]}
    assert shown["diff"] == [{"policy": f"{E}/policies/cosu-g", "field": "funDisabled",
                              "before": False, "after": True}]
    assert preview(Plan(), {}, inline_limit=25, staged=True)["plan"]["rollout"] is True


def test_created_policies_are_numbered_and_secrets_never_shown():
    network = {"NetworkConfigurations": [{"WiFi": {"SSID": "s", "Passphrase": "hunter2"}}]}
    app = {"packageName": "com.x", "managedConfiguration": {"apiToken": "t0ken", "url": "u"}}
    plan = Plan(updates=[update("a", {"openNetworkConfiguration": network,
                                      "applications": [app]}),
                         update("b", {"funDisabled": True})])
    shown = preview(plan, {"com.x": ["apiToken"]}, inline_limit=25)
    assert {d["policy"] for d in shown["diff"]} == {"new-1", "new-2"}
    assert "hunter2" not in str(shown) and "t0ken" not in str(shown)
    assert '"u"' in str(shown).replace("'", '"')
