"""Concurrent configuration changes: pushes of one space are serialized, AMAPI never drifts."""

import datetime

import pytest

from shared.clock import utcnow
from shared.policy import push as policy_push
from shared.policy.effective_policy import choose
from shared.store import devices, push_leases
from shared.store.client import db
from tests.integration.policy_helpers import (
    amapi_calls,
    amapi_device,
    amapi_policy,
    assert_amapi_matches_the_stores,
    at_once,
    clear_calls,
    managed_device,
    request,
)
from tests.integration.test_cosu_policies import PolicyApi

TRIALS = 4


@pytest.fixture
def api(function_apps, admin_headers, firestore, amapi_emulator):
    api = PolicyApi(function_apps["policy"], admin_headers)
    assert api.app().status_code == 201
    return api


def test_two_patches_with_one_etag_leave_the_winners_policy_in_amapi(api, amapi_emulator):
    managed_device(amapi_emulator, "SN-1")
    config = api.config(distribution={"mode": "ALL"}).get_json()
    for trial in range(TRIALS):
        reset = api.call("PATCH", f"/cosu-configs/{config['id']}", {"lockdown": {}})
        etag = reset.get_json()["etag"]
        # Both changes differ from the policy AMAPI has, so both would push it.
        path, app = f"/cosu-configs/{config['id']}", api.client.application
        guarded = {**api.headers, "If-Match": etag}
        first, second = at_once(
            request(app, "PATCH", path, {"lockdown": {"disableKeyguard": True},
                                         "description": f"a{trial}"}, guarded),
            request(app, "PATCH", path, {"lockdown": {"disableNetworkReset": True},
                                         "description": f"b{trial}"}, guarded))
        assert sorted([first.status_code, second.status_code]) == [200, 412], (
            first.get_json(), second.get_json())
        winner = first if first.status_code == 200 else second
        stored = api.call("GET", f"/cosu-configs/{config['id']}").get_json()
        assert stored["description"] == winner.get_json()["description"]
        assert_amapi_matches_the_stores(amapi_emulator)


def test_two_configurations_changed_at_once_leave_devices_on_the_higher_priority(
        api, amapi_emulator):
    fleet = [managed_device(amapi_emulator, f"SN-{i}") for i in range(3)]
    low = api.config(name="Low", priority=10).get_json()
    high = api.config(name="High", priority=20).get_json()
    for _ in range(TRIALS):
        results = at_once(*[request(api.client.application, "PATCH",
                                    f"/cosu-configs/{c['id']}",
                                    {"distribution": {"mode": "ALL"}}, api.headers)
                            for c in (low, high)])
        assert [r.status_code for r in results] == [200, 200], [r.get_json() for r in results]
        inputs = policy_push.load_space("global")
        for device in fleet:
            stored = devices.get(device["name"])
            assert choose(stored, inputs).config_id == high["id"]
        assert_amapi_matches_the_stores(amapi_emulator)
        for config in (low, high):
            assert api.call("PATCH", f"/cosu-configs/{config['id']}",
                            {"distribution": {"mode": "NONE"}}).status_code == 200
        assert all(devices.get(d["name"])["effectivePolicy"] is None for d in fleet)


def test_a_change_to_a_space_another_push_holds_waits_then_answers_503_untouched(
        api, amapi_emulator, monkeypatch):
    managed_device(amapi_emulator, "SN-1")
    config = api.config(distribution={"mode": "ALL"}).get_json()
    held = push_leases.try_acquire(("global",), "a-push-still-running", utcnow(),
                                   datetime.timedelta(seconds=60))
    assert held is not None
    monkeypatch.setattr(policy_push, "LEASE_WAIT_SECONDS", 0.3)
    clear_calls(amapi_emulator)
    busy = api.call("PATCH", f"/cosu-configs/{config['id']}",
                    {"lockdown": {"disableKeyguard": True}})
    assert busy.status_code == 503, busy.get_json()
    assert busy.get_json()["error"]["status"] == "UNAVAILABLE"
    assert busy.headers.get("Retry-After")
    assert amapi_calls(amapi_emulator) == []
    assert api.call("GET", f"/cosu-configs/{config['id']}").get_json()["etag"] == config["etag"]

    assert push_leases.release(held, utcnow())
    done = api.call("PATCH", f"/cosu-configs/{config['id']}",
                    {"lockdown": {"disableKeyguard": True}})
    assert done.status_code == 200, done.get_json()
    assert_amapi_matches_the_stores(amapi_emulator)


def test_the_lease_of_a_crashed_push_lapses_on_its_own(api, amapi_emulator):
    managed_device(amapi_emulator, "SN-1")
    config = api.config(distribution={"mode": "ALL"}).get_json()
    past = utcnow() - datetime.timedelta(seconds=1)
    db().collection(push_leases.COLLECTION).document("global").set(
        {"holder": "a-crashed-push", "expireTime": past, "sequence": 7})
    done = api.call("PATCH", f"/cosu-configs/{config['id']}",
                    {"lockdown": {"disableKeyguard": True}})
    assert done.status_code == 200, done.get_json()
    lease = db().collection(push_leases.COLLECTION).document("global").get().to_dict()
    assert lease["holder"] is None and lease["sequence"] == 8
    assert_amapi_matches_the_stores(amapi_emulator)


def test_a_lease_taken_over_is_neither_renewed_nor_released_by_its_old_holder(firestore):
    now = utcnow()
    old = push_leases.try_acquire(("s1", "s2"), "old", now, datetime.timedelta(seconds=1))
    assert old is not None
    assert push_leases.try_acquire(("s2",), "other", now, datetime.timedelta(seconds=1)) is None
    later = now + datetime.timedelta(seconds=2)
    new = push_leases.try_acquire(("s2",), "new", later, datetime.timedelta(seconds=60))
    assert new is not None
    assert not push_leases.renew(old, later, datetime.timedelta(seconds=60))
    assert not push_leases.release(old, later)
    assert push_leases.try_acquire(("s2",), "third", later,
                                   datetime.timedelta(seconds=60)) is None
    assert push_leases.release(new, later)


def test_label_changes_racing_a_distribution_change_leave_no_drift(api, amapi_emulator,
                                                                   function_apps,
                                                                   admin_headers):
    fleet = [managed_device(amapi_emulator, f"SN-{i}") for i in range(3)]
    for device in fleet:
        devices.put(device["name"], {"enrollmentDecision": {"result": "ALLOWED"}})
    lobby = api.config(name="Lobby", priority=10).get_json()
    for trial in range(TRIALS):
        tagged = trial % 2 == 0
        distribution = ({"mode": "CUSTOM", "labels": ["lobby"]} if tagged
                        else {"mode": "NONE"})
        config_call = request(api.client.application, "PATCH", f"/cosu-configs/{lobby['id']}",
                              {"distribution": distribution}, api.headers)
        label_calls = [request(function_apps["commands"], "PATCH", f"/devices/{d['id']}",
                               {"labels": ["lobby"] if tagged else []}, admin_headers)
                       for d in fleet]
        results = at_once(config_call, *label_calls)
        assert all(r.status_code == 200 for r in results), [r.get_json() for r in results]
        assert_amapi_matches_the_stores(amapi_emulator)


def test_concurrent_changes_under_amapi_faults_never_leave_amapi_and_the_stores_apart(
        api, amapi_emulator):
    from shared.store import effective_policies
    from tests.integration.enroll_helpers import emulator_call

    fleet = [managed_device(amapi_emulator, f"SN-{i}", labels=["lobby"] if i % 2 else [])
             for i in range(4)]
    low = api.config(name="Low", priority=10, distribution={"mode": "ALL"}).get_json()
    high = api.config(name="High", priority=20).get_json()
    app = api.client.application
    changes = [
        ({"distribution": {"mode": "CUSTOM", "labels": ["lobby"]}}, {"lockdown": {}}),
        ({"lockdown": {"disableKeyguard": True}}, {"distribution": {"mode": "NONE"}}),
        ({"distribution": {"mode": "ALL"}}, {"lockdown": {"disableStatusBar": True}}),
        ({"lockdown": {}}, {"distribution": {"mode": "CUSTOM", "labels": ["lobby"]}}),
    ]
    status, _ = emulator_call(amapi_emulator, "POST", "/emulator/v1/faults", {
        "probability": 0.3, "codes": [400, 500, 503],
        "methods": ["enterprises.policies.patch", "enterprises.devices.patch"]})
    assert status == 200
    seen = set()
    for high_change, low_change in changes:
        results = at_once(
            request(app, "PATCH", f"/cosu-configs/{high['id']}", high_change, api.headers),
            request(app, "PATCH", f"/cosu-configs/{low['id']}", low_change, api.headers))
        seen |= {r.status_code for r in results}
        assert {r.status_code for r in results} <= {200, 400, 503}, [
            r.get_json() for r in results]
        for device in fleet:
            stored = devices.get(device["name"])
            assert amapi_device(amapi_emulator, device["name"])["policyName"] == stored[
                "policyName"], "a device is never where the inventory does not say"
        keys = {devices.get(d["name"]).get("effectivePolicy") for d in fleet} - {None}
        for key, record in effective_policies.get_many(sorted(keys)).items():
            if record.get("fingerprint"):
                pushed = amapi_policy(amapi_emulator, record["name"])
                assert {k: v for k, v in pushed.items() if k in record["policy"]} == record[
                    "policy"], key
    emulator_call(amapi_emulator, "DELETE", "/emulator/v1/faults")
    # Whatever failed, the next changes repair it.
    for config in (high, low):
        assert api.call("PATCH", f"/cosu-configs/{config['id']}",
                        {"distribution": {"mode": "NONE"}}).status_code == 200
        assert api.call("PATCH", f"/cosu-configs/{config['id']}",
                        {"distribution": {"mode": "ALL"},
                         "lockdown": {"disableNetworkReset": True}}).status_code == 200
    assert_amapi_matches_the_stores(amapi_emulator)
