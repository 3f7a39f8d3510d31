"""Staged rollouts (pure): which devices a stage reaches, and how its gate reads their reports.

No emulator: devices and group records are given as the store keeps them.
"""

import datetime
from dataclasses import replace

from shared.policy.effective_policy import PolicyChoice
from shared.policy.push_plan import choices_of, compile_choice, policy_record, with_change
from shared.policy.staging import Gate, StageHealth, canary_rank, stage_health, staged_choices
from tests.unit.plan_helpers import ENTERPRISE, NOW, SPACE, cosu, fleet, settled, space

ROLLOUT = "r1"
EDIT = {"kiosk": {"statusBar": "SYSTEM_INFO_ONLY"}}
FRONT = {"mode": "CUSTOM", "labels": ["front"]}


def staging(inputs, before, after):
    """`inputs` with COSU configuration `before` changed to `after`, staged by ROLLOUT."""
    return replace(inputs, staged=with_change(inputs, "cosu", before, after),
                   staged_by=ROLLOUT)


def staged_names(choices):
    return {name for name, choice in choices.items() if choice.variant == ROLLOUT}


def at(devices, inputs, records, stages, upto):
    return staged_names(staged_choices(devices, inputs, stages, upto, records))


def one_edited_group(n):
    lobby = cosu("lobby")
    inputs = space(lobby)
    devices, records = settled(fleet(n), inputs)
    return devices, records, staging(inputs, lobby, cosu("lobby", **EDIT))


# --- which devices a stage reaches ---------------------------------------------------------

def test_percent_stages_are_deterministic_nested_and_reach_everyone_at_100():
    devices, records, inputs = one_edited_group(200)
    stages = [{"percent": 5}, {"percent": 25}, {"percent": 100}]

    first = at(devices, inputs, records, stages, 0)
    assert len(first) == 10
    assert at(devices, inputs, records, stages, 0) == first
    assert at(list(reversed(devices)), inputs, records, stages, 0) == first  # order-free
    ranked = sorted(devices, key=lambda d: canary_rank(d["id"]))
    assert first == {d["name"] for d in ranked[:10]}

    second = at(devices, inputs, records, stages, 1)
    assert len(second) == 50 and first < second
    assert at(devices, inputs, records, stages, 2) == {d["name"] for d in devices}


def test_shares_are_counted_per_group_so_canaries_spread_over_groups():
    base, lobby = cosu("base", priority=1), cosu("lobby", priority=5, distribution=FRONT)
    inputs = space(base, lobby)
    devices = fleet(120)
    for device in devices[:20]:
        device["labels"] = ["front"]
    devices, records = settled(devices, inputs)
    # A new top configuration reaches every device: both groups are affected.
    top = cosu("top", priority=9, **EDIT)
    staged = replace(inputs, staged=with_change(inputs, "cosu", None, top), staged_by=ROLLOUT)

    chosen = at(devices, staged, records, [{"percent": 5}], 0)
    front = {d["name"] for d in devices[:20]}
    assert (len(chosen & front), len(chosen - front)) == (1, 5)  # ceil(5 % of 20) = 1


def test_devices_the_change_does_not_affect_are_never_staged():
    base, lobby = cosu("base", priority=1), cosu("lobby", priority=5, distribution=FRONT)
    inputs = space(base, lobby)
    devices = fleet(40)
    for device in devices[:10]:
        device["labels"] = ["front"]
    devices, records = settled(devices, inputs)
    front = {d["name"] for d in devices[:10]}
    everyone = [{"percent": 100}]

    edited_lobby = staging(inputs, lobby, cosu("lobby", priority=5, distribution=FRONT, **EDIT))
    assert at(devices, edited_lobby, records, everyone, 0) == front
    edited_base = staging(inputs, base, cosu("base", priority=1, **EDIT))
    assert at(devices, edited_base, records, everyone, 0) == {d["name"] for d in devices} - front
    # Same compiled policy (only the description changes): nobody is affected.
    reworded = staging(inputs, base, cosu("base", priority=1, description="new words"))
    assert at(devices, reworded, records, everyone, 0) == set()


def test_device_id_stages_stage_exactly_the_named_affected_devices_cumulatively():
    lobby = cosu("lobby", distribution=FRONT)
    inputs = space(lobby)
    devices = fleet(10)
    for device in devices[:8]:
        device["labels"] = ["front"]
    devices, records = settled(devices, inputs)
    staged = staging(inputs, lobby, cosu("lobby", distribution=FRONT, **EDIT))
    stages = [{"deviceIds": [devices[0]["id"], devices[1]["name"], devices[9]["id"]]},
              {"deviceIds": [devices[2]["id"]]},
              {"percent": 100}]

    # devices[9] is not in the front: nothing reaches it, before or after the change.
    assert at(devices, staged, records, stages, 0) == {devices[0]["name"], devices[1]["name"]}
    assert at(devices, staged, records, stages, 1) == {d["name"] for d in devices[:3]}
    assert at(devices, staged, records, stages, 2) == {d["name"] for d in devices[:8]}


def test_a_device_already_on_a_variant_group_stays_staged():
    devices, records, inputs = one_edited_group(100)
    stages = [{"percent": 1}, {"percent": 2}]
    picked = at(devices, inputs, records, stages, 0)
    outsider = next(d for d in devices
                    if d["name"] not in at(devices, inputs, records, stages, 1))
    variant = PolicyChoice("lobby", variant=ROLLOUT)
    records = {**records, "r1-g": policy_record(ENTERPRISE, SPACE, variant,
                                                compile_choice(variant, inputs), NOW, "r1-g")}
    outsider["effectivePolicy"] = "r1-g"

    assert at(devices, inputs, records, stages, 0) == picked | {outsider["name"]}
    assert outsider["name"] in at(devices, inputs, records, stages, 1)
    # A variant group of another rollout does not count.
    records["r1-g"]["choice"]["variant"] = "r0"
    assert at(devices, inputs, records, stages, 0) == picked


def test_variant_choices_compile_the_staged_change_and_plain_ones_the_stored_inputs():
    devices, records, inputs = one_edited_group(20)
    choices = staged_choices(devices, inputs, [{"percent": 50}], 0, records)
    before = choices_of(devices, inputs)
    variants = [c for c in choices.values() if c.variant == ROLLOUT]
    plain = [c for c in choices.values() if c.variant is None]
    assert len(variants) == 10 and len(plain) == 10
    assert all(choices[n] == before[n] for n, c in choices.items() if c.variant is None)

    variant, stored = variants[0], plain[0]
    assert variant.key != stored.key and variant.key is not None
    assert compile_choice(variant, inputs) == compile_choice(PolicyChoice("lobby"),
                                                             inputs.staged)
    assert compile_choice(variant, inputs)["kioskCustomization"]["statusBar"] == (
        "SYSTEM_INFO_ONLY")
    assert compile_choice(stored, inputs)["kioskCustomization"]["statusBar"] == (
        "NOTIFICATIONS_AND_SYSTEM_INFO_DISABLED")
    assert compile_choice(stored, inputs) == compile_choice(PolicyChoice("lobby"),
                                                            replace(inputs, staged=None))


def test_a_fractional_share_stages_the_exact_ceiling():
    """2.2 % of 1500 devices is exactly 33 devices (float arithmetic gives 33.00000000000001)."""
    devices, records, inputs = one_edited_group(1500)
    assert len(at(devices, inputs, records, [{"percent": 2.2}], 0)) == 33


# --- a stage's gate -------------------------------------------------------------------------

SINCE = datetime.datetime(2026, 12, 1, 9, 0, tzinfo=datetime.UTC)
GROUP = {"name": "enterprises/e/policies/cosu-g", "version": "3"}


def device(i, *, policy="cosu-g", version="3", reported="2026-12-01T10:00:00Z",
           compliant=True, issues=()):
    return {"id": f"d{i}", "name": f"enterprises/e/devices/d{i}",
            "compliance": {"appliedPolicyName": f"enterprises/e/policies/{policy}",
                           "appliedPolicyVersion": version, "compliant": compliant,
                           "nonCompliance": list(issues)},
            "lastStatusReportTime": reported}


def app_error(i, *, when=SINCE + datetime.timedelta(minutes=5), severity="ERROR"):
    return {"deviceId": f"d{i}", "packageName": "com.example.kiosk", "key": "k",
            "severity": severity, "message": "m", "lastUpdateTime": when}


def health(devices, states=()):
    return stage_health([(d, GROUP) for d in devices], SINCE, states)


def test_a_report_from_before_the_stage_never_counts_as_applied():
    stale = [device(1, reported="2026-12-01T08:59:59Z"),
             device(2, reported=SINCE - datetime.timedelta(seconds=1)),
             device(3, reported=None)]
    fresh = [device(4, reported=SINCE), device(5, reported=SINCE + datetime.timedelta(hours=1))]
    result = health(stale + fresh)
    assert (result.devices, result.applied) == (5, 2)
    assert {w["deviceId"] for w in result.worst} == {"d1", "d2", "d3"}


def test_only_the_given_policy_at_its_version_or_later_counts_as_applied():
    result = health([device(1, version="2"), device(2, policy="cosu-other"),
                     device(3, version="3"), device(4, version="4"), device(5, version="")])
    assert result.applied == 2
    assert [w["deviceId"] for w in result.worst] == ["d1", "d2", "d5"]


def test_figures_count_applied_non_compliant_and_app_error_devices():
    issue = {"settingName": "statusBar", "nonComplianceReason": "MANAGEMENT_MODE"}
    devices = [device(i) for i in range(6)] + [
        device(6, issues=[issue]), device(7, compliant=False),
        device(8, version="1"), device(9, reported="2026-11-30T10:00:00Z")]
    result = health(devices, [app_error(0), app_error(1), app_error(1)])
    assert result.figures() == {"devices": 10, "appliedPercent": 80.0,
                                "nonCompliantPercent": 20.0, "appErrorDevices": 2}
    assert next(w for w in result.worst if w["deviceId"] == "d6")["reason"] == (
        "non-compliant: statusBar MANAGEMENT_MODE")


def test_only_fresh_error_app_states_of_the_stage_devices_count():
    states = [app_error(1, when=SINCE - datetime.timedelta(seconds=1)),  # before the stage
              app_error(7),                                               # not on the stage
              app_error(2, severity="INFO"),
              app_error(3, when="2026-12-01T09:30:00Z")]                  # RFC 3339 text
    result = health([device(i) for i in range(1, 5)], states)
    assert result.app_errors == 1
    assert result.worst == [{"deviceId": "d3", "reason": "com.example.kiosk reports ERROR k: m"}]


def test_worst_lists_app_errors_then_non_compliant_then_not_applied():
    devices = [device(1, version="1"), device(2, compliant=False), device(3),
               device(4, version="1"), device(5, compliant=False)]
    result = health(devices, [app_error(3)])
    assert [w["deviceId"] for w in result.worst] == ["d3", "d2", "d5", "d1", "d4"]


def test_worst_names_at_most_twenty_devices():
    result = health([device(i, version="1") for i in range(30)])
    assert len(result.worst) == 20


def test_failed_checks_name_each_broken_threshold():
    gate = Gate(min_applied_percent=90.0, max_non_compliant_percent=10.0,
                max_app_error_devices=1)
    assert StageHealth(devices=10, applied=9, non_compliant=1, app_errors=1
                       ).failed_checks(gate) == []

    assert StageHealth(devices=10, applied=8).failed_checks(gate) == [
        "80.0 % of 10 devices report the new policy applied (at least 90.0 % needed)"]
    assert StageHealth(devices=10, applied=10, non_compliant=2).failed_checks(gate) == [
        "20.0 % of the devices report non-compliance (at most 10.0 % allowed)"]
    assert StageHealth(devices=10, applied=10, app_errors=2).failed_checks(gate) == [
        "2 devices report an ERROR app state from the pinned app (at most 1 allowed)"]
    assert len(StageHealth(devices=10, applied=5, non_compliant=5, app_errors=3
                           ).failed_checks(gate)) == 3


def test_a_stage_with_no_devices_passes():
    result = health([])
    assert result.devices == 0
    assert result.failed_checks(Gate()) == []


def test_a_non_compliant_device_without_details_says_so_plainly():
    [worst] = health([device(1, compliant=False)]).worst
    assert worst["reason"] == "non-compliant"


def test_gate_defaults_and_overrides():
    assert Gate.of(None) == Gate.of({}) == Gate(1800, 95.0, 2.0, 0)
    gate = Gate.of({"soakSeconds": 60, "maxAppErrorDevices": 3})
    assert gate == Gate(60, 95.0, 2.0, 3)
    assert Gate.of(gate.as_json()) == gate
    assert gate.as_json() == {"soakSeconds": 60, "minAppliedPercent": 95.0,
                              "maxNonCompliantPercent": 2.0, "maxAppErrorDevices": 3}
