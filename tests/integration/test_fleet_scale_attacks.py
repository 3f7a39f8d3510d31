"""Fleet-scale machinery attacked as a hostile client and a hostile environment would.

The rollout worker runs in-process (`rollout_worker.run`, or one `advance` under the space's
lease), so a test decides exactly what happens between two batches.
"""

from __future__ import annotations

import pytest

from shared.access import roles
from shared.config import settings
from shared.store import access_control, devices, rollouts
from tests.conftest import token_for
from tests.integration.policy_helpers import (
    amapi_device,
    amapi_policy,
    assert_amapi_matches_the_stores,
    at_once,
    request,
)
from tests.integration.rollout_helpers import bulk_fleet, one_batch, work
from tests.integration.test_cosu_policies import PolicyApi
from tests.integration.test_rollout_function import envelope, push


@pytest.fixture
def api(function_apps, admin_headers, firestore, amapi_emulator):
    api = PolicyApi(function_apps["policy"], admin_headers)
    assert api.app().status_code == 201
    return api


@pytest.fixture
def inline_limit(monkeypatch):
    """Lower the inline limit so that small fleets make rollouts."""

    def lower(calls: int) -> None:
        monkeypatch.setenv("ROLLOUT_INLINE_LIMIT", str(calls))
        settings.cache_clear()

    yield lower
    settings.cache_clear()


def started(response) -> dict:
    assert response.status_code == 202, response.get_json()
    return response.get_json()


def as_principal(function_apps, email: str, role: str | None, space: str = "global"):
    if role:
        access_control.put_binding({"principal": email, "role": role, "space": space})
    return PolicyApi(function_apps["policy"], {"Authorization": f"Bearer {token_for(email)}"})


def runs_its_own_choice(server, device_name: str) -> bool:
    """True when AMAPI gives the device the content the stored configurations choose for it."""
    from shared.policy import push as policy_push
    from shared.policy.effective_policy import choose

    device = devices.get(device_name)
    choice = choose(device, policy_push.load_space(str(device["space"])))
    pushed = amapi_policy(server, amapi_device(server, device_name)["policyName"])
    expected = policy_push.compile_choice(choice, policy_push.load_space(str(device["space"])))
    return {k: v for k, v in pushed.items() if k in expected} == expected


# --- the rollout function -------------------------------------------------------------------

@pytest.mark.parametrize("odd", ["a/b", "__reserved__", ".."])
def test_a_rollout_message_whose_id_cannot_be_a_document_is_acknowledged(
        function_apps, firestore, odd):
    response = push(function_apps, envelope({"rolloutId": odd}))

    assert 200 <= response.status_code < 300


def test_a_rollout_message_for_a_rollout_that_does_not_exist_is_acknowledged(
        function_apps, firestore):
    response = push(function_apps, envelope({"rolloutId": "no-such-rollout"}))

    assert response.status_code == 200


# --- the rollout API ------------------------------------------------------------------------

@pytest.mark.parametrize("odd", ["__reserved__", "..", ".", "x" * 1600, "%00", "é", "a:b"])
def test_odd_rollout_ids_are_404_not_500(api, odd):
    for method, path in (("GET", f"/rollouts/{odd}"), ("POST", f"/rollouts/{odd}:cancel"),
                         ("POST", f"/rollouts/{odd}:pause"), ("POST", f"/rollouts/{odd}:resume")):
        response = api.call(method, path)
        assert response.status_code == 404, (method, path[:40], response.get_json())
        assert response.get_json()["error"]["status"] == "NOT_FOUND"


def test_a_viewer_may_read_but_not_cancel_while_a_stranger_learns_nothing(
        api, amapi_emulator, function_apps, inline_limit):
    inline_limit(5)
    bulk_fleet(amapi_emulator, 8)
    rollout = started(api.config(distribution={"mode": "ALL"}))["rollout"]
    viewer = as_principal(function_apps, "viewer@example.com", "VIEWER")
    stranger = as_principal(function_apps, "nobody@example.com", None)

    assert viewer.call("GET", f"/rollouts/{rollout['id']}").status_code == 200
    for verb in ("cancel", "pause", "resume"):
        assert viewer.call("POST", f"/rollouts/{rollout['id']}:{verb}").status_code == 403
        hidden = stranger.call("POST", f"/rollouts/{rollout['id']}:{verb}")
        assert hidden.status_code in (403, 404)
        assert rollout["id"] not in str(hidden.get_json())
    assert rollouts.get(rollout["id"])["state"] == "PENDING"


def test_a_202_names_its_rollout_in_location_and_body_for_create_patch_and_delete(
        api, amapi_emulator, inline_limit):
    inline_limit(5)
    bulk_fleet(amapi_emulator, 8)
    created = api.config(distribution={"mode": "ALL"})
    body = started(created)
    assert created.headers["Location"].endswith(f"/rollouts/{body['rollout']['id']}")
    assert created.headers["ETag"] == body["etag"]
    work(body["rollout"]["id"])
    moved = api.call("PATCH", f"/cosu-configs/{body['id']}", {"distribution": {"mode": "NONE"}})
    assert started(moved)["rollout"]["trigger"]["id"] == body["id"]
    assert moved.headers["Location"].endswith(f"/rollouts/{moved.get_json()['rollout']['id']}")
    work(moved.get_json()["rollout"]["id"])
    api.call("PATCH", f"/cosu-configs/{body['id']}", {"distribution": {"mode": "ALL"}})
    rollout_id = rollouts.page({"state": "PENDING"}, 10, None)[0]["id"]
    work(rollout_id)
    etag = api.call("GET", f"/cosu-configs/{body['id']}").headers["ETag"]
    deleted = api.call("DELETE", f"/cosu-configs/{body['id']}", **{"If-Match": etag})
    gone = started(deleted)
    assert deleted.headers["Location"].endswith(f"/rollouts/{gone['rollout']['id']}")
    assert gone["rollout"]["state"] == "PENDING"
    work(gone["rollout"]["id"])
    assert_amapi_matches_the_stores(amapi_emulator)


def test_two_cancels_and_a_pause_at_once_settle_on_one_state(
        api, amapi_emulator, function_apps, admin_headers, inline_limit):
    inline_limit(5)
    bulk_fleet(amapi_emulator, 8)
    for _ in range(3):
        rollout = started(api.config(name=f"C{_}", distribution={"mode": "ALL"},
                                     priority=10 + _))["rollout"]
        app = function_apps["policy"]
        responses = at_once(
            request(app, "POST", f"/rollouts/{rollout['id']}:cancel", None, admin_headers),
            request(app, "POST", f"/rollouts/{rollout['id']}:cancel", None, admin_headers),
            request(app, "POST", f"/rollouts/{rollout['id']}:pause", None, admin_headers))
        codes = sorted(r.status_code for r in responses)
        assert codes.count(200) in (1, 2) and set(codes) <= {200, 412}, codes
        final = rollouts.get(rollout["id"])["state"]
        assert final == "CANCELLED"
        # A cancelled rollout's message is a no-op; resuming it is refused.
        work(rollout["id"])
        assert api.call("POST", f"/rollouts/{rollout['id']}:resume").status_code == 412


def test_a_superseded_rollout_cannot_be_cancelled_paused_or_resumed(api, amapi_emulator,
                                                                     inline_limit):
    inline_limit(5)
    bulk_fleet(amapi_emulator, 8)
    first = started(api.config(name="First", distribution={"mode": "ALL"}))["rollout"]
    second = started(api.config(name="Second", priority=20,
                                distribution={"mode": "ALL"}))["rollout"]
    for verb in ("cancel", "pause", "resume"):
        refused = api.call("POST", f"/rollouts/{first['id']}:{verb}")
        assert refused.status_code == 412, refused.get_json()
    assert rollouts.get(first["id"])["supersededBy"] == second["id"]
    work(second["id"])
    assert_amapi_matches_the_stores(amapi_emulator)


def test_rollouts_listed_by_state_page_through_every_one_once(api, amapi_emulator,
                                                              inline_limit):
    inline_limit(3)
    bulk_fleet(amapi_emulator, 5)
    ids = []
    for index in range(5):
        body = started(api.config(name=f"P{index}", priority=10 + index,
                                  distribution={"mode": "ALL"}))
        ids.append(body["rollout"]["id"])
    seen, token = [], None
    while True:
        path = "/rollouts?state=CANCELLED&pageSize=2" + (f"&pageToken={token}" if token else "")
        page = api.call("GET", path)
        assert page.status_code == 200, page.get_json()
        seen += [r["id"] for r in page.get_json()["rollouts"]]
        token = page.get_json().get("nextPageToken")
        if not token:
            break
    assert sorted(seen) == sorted(ids[:-1])
    # A token minted for one state does not page another.
    first = api.call("GET", "/rollouts?state=CANCELLED&pageSize=2").get_json()
    other = api.call("GET", f"/rollouts?state=PENDING&pageToken={first['nextPageToken']}")
    assert other.status_code == 400


# --- groups and deferred re-keys ------------------------------------------------------------

def split_fleet(api, amapi_emulator, inline_limit) -> tuple[dict, str]:
    """12 devices on one group (config A to all), then config B for the 8 `front` ones: the
    group is kept by the front part and re-keyed to B once the 4 `back` ones have left (6
    calls, a rollout)."""
    bulk_fleet(amapi_emulator, 8, labels=["front"])
    bulk_fleet(amapi_emulator, 4, labels=["back"])
    assert api.config(name="A", distribution={"mode": "ALL"}).status_code == 201
    inline_limit(5)
    body = started(api.config(name="B", priority=20, lockdown={"disableKeyguard": True},
                              distribution={"mode": "CUSTOM", "labels": ["front"]}))
    return body, body["rollout"]["id"]


def test_a_device_enrolled_while_its_group_awaits_a_rekey_never_runs_anothers_policy(
        api, amapi_emulator, inline_limit):
    from shared.policy import push as policy_push

    _, rollout_id = split_fleet(api, amapi_emulator, inline_limit)
    [newcomer] = bulk_fleet(amapi_emulator, 1, labels=["back"])
    with roles.as_system():
        devices.put(newcomer["name"], policy_push.assign_device(newcomer, "global"))
    assert runs_its_own_choice(amapi_emulator, newcomer["name"])

    assert one_batch(rollout_id)  # the planned steps, the re-key last
    paused = api.call("POST", f"/rollouts/{rollout_id}:pause")
    assert paused.status_code == 200

    assert runs_its_own_choice(amapi_emulator, newcomer["name"])


def test_a_device_relabelled_while_its_group_awaits_a_rekey_never_runs_anothers_policy(
        api, amapi_emulator, inline_limit):
    from shared.policy import push as policy_push

    _, rollout_id = split_fleet(api, amapi_emulator, inline_limit)
    front = next(d for d in devices.managed_in_space("global") if d["labels"] == ["front"])
    with roles.as_system():
        policy_push.relabel(devices.get(front["name"]), ["back"], vetted=True)
    assert runs_its_own_choice(amapi_emulator, front["name"])

    assert one_batch(rollout_id)
    assert api.call("POST", f"/rollouts/{rollout_id}:pause").status_code == 200

    assert runs_its_own_choice(amapi_emulator, front["name"])


def test_enrolment_and_relabel_during_a_rekey_converge_once_the_rollout_ends(
        api, amapi_emulator, inline_limit):
    from shared.policy import push as policy_push

    _, rollout_id = split_fleet(api, amapi_emulator, inline_limit)
    [newcomer] = bulk_fleet(amapi_emulator, 1, labels=["back"])
    front = next(d for d in devices.managed_in_space("global") if d["labels"] == ["front"])
    with roles.as_system():
        devices.put(newcomer["name"], policy_push.assign_device(newcomer, "global"))
        policy_push.relabel(devices.get(front["name"]), ["back"], vetted=True)
    work(rollout_id)
    assert rollouts.get(rollout_id)["state"] == "SUCCEEDED"
    assert_amapi_matches_the_stores(amapi_emulator)


def dangling_fleet(api, amapi_emulator, inline_limit, policy_name_gone):
    """Six devices on config A's group, then: one recorded in a group that does not exist, one
    with no group and no policy name, and the group's record lost."""
    from shared.store import effective_policies
    from shared.store.client import db

    bulk_fleet(amapi_emulator, 6)
    config = api.config(name="A", distribution={"mode": "ALL"}).get_json()
    fleet = devices.managed_in_space("global")
    group = fleet[0]["effectivePolicy"]
    devices.put(fleet[1]["name"], {"effectivePolicy": "no-such-group"})
    devices.put(fleet[2]["name"], {"effectivePolicy": None, "policyName": policy_name_gone})
    db().collection(effective_policies.COLLECTION).document(group).delete()
    inline_limit(3)
    edited = api.call("PATCH", f"/cosu-configs/{config['id']}",
                      {"priority": 30, "lockdown": {"disableKeyguard": True}})
    rollout_id = started(edited)["rollout"]["id"]
    work(rollout_id)
    return rollouts.get(rollout_id)


def test_a_dangling_group_id_a_lost_group_record_and_no_policy_name_are_repaired(
        api, amapi_emulator, inline_limit):
    from google.cloud import firestore as gcf

    done = dangling_fleet(api, amapi_emulator, inline_limit, gcf.DELETE_FIELD)
    assert done["state"] == "SUCCEEDED", done
    assert_amapi_matches_the_stores(amapi_emulator)


def test_a_device_stored_with_a_null_policy_name_is_moved_by_a_rollout(
        api, amapi_emulator, inline_limit):
    done = dangling_fleet(api, amapi_emulator, inline_limit, None)
    assert done["state"] == "SUCCEEDED", done
    assert_amapi_matches_the_stores(amapi_emulator)


def test_after_a_cancel_the_next_change_of_the_space_pushes_the_devices_left_behind(
        api, amapi_emulator, inline_limit):
    inline_limit(5)
    bulk_fleet(amapi_emulator, 12)
    config = started(api.config(distribution={"mode": "ALL"}))
    rollout_id = config["rollout"]["id"]
    assert one_batch(rollout_id, size=5)
    cancelled = api.call("POST", f"/rollouts/{rollout_id}:cancel").get_json()
    assert "the next change in this space" in cancelled["message"]

    edited = api.call("PATCH", f"/cosu-configs/{config['id']}",
                      {"lockdown": {"disableKeyguard": True}})
    assert edited.status_code in (200, 202), edited.get_json()
    if edited.status_code == 202:
        work(edited.get_json()["rollout"]["id"])

    assert_amapi_matches_the_stores(amapi_emulator)


# --- the worker under a hostile environment -------------------------------------------------

class StallingDoor:
    """AMAPI, except that one device move stalls past the lease while `meanwhile` runs."""

    def __init__(self, door, stall_on: int, seconds: float, meanwhile) -> None:
        self.door, self.stall_on, self.seconds, self.meanwhile = door, stall_on, seconds, meanwhile
        self.moves = 0

    def __getattr__(self, name):
        return getattr(self.door, name)

    def patch_device(self, *args, **kwargs):
        import threading
        import time

        result = self.door.patch_device(*args, **kwargs)
        self.moves += 1
        if self.moves == self.stall_on:
            time.sleep(self.seconds)
            other = threading.Thread(target=self.meanwhile)
            other.start()
            other.join(60)
        return result


def test_a_worker_that_lost_its_lease_does_not_roll_back_a_newer_workers_checkpoint(
        api, amapi_emulator, inline_limit, monkeypatch):
    import datetime

    from shared.amapi.client import amapi
    from shared.policy import push as policy_push
    from shared.policy import rollouts as domain

    inline_limit(3)
    bulk_fleet(amapi_emulator, 12)
    rollout_id = started(api.config(distribution={"mode": "ALL"}))["rollout"]["id"]
    monkeypatch.setattr(policy_push, "LEASE_TTL", datetime.timedelta(seconds=1))
    progress_seen_by_the_newer_worker = []

    def newer_worker() -> None:
        one_batch(rollout_id)
        progress_seen_by_the_newer_worker.append(rollouts.get(rollout_id)["done"]["moved"])

    door = StallingDoor(amapi(), stall_on=4, seconds=1.2, meanwhile=newer_worker)
    with (roles.as_system(), pytest.raises(policy_push.LeaseLost),
          policy_push.serialized(["global"])):
        domain.advance(rollout_id, 100, door)
    assert progress_seen_by_the_newer_worker == [12]

    after = rollouts.get(rollout_id)
    assert after["done"]["moved"] >= 12, after["done"]
    assert after["cursor"] == after["stepCount"]


# --- drift after random sequences -----------------------------------------------------------

def run_open_rollouts() -> None:
    for _ in range(5):
        pending = [r for state in ("PENDING", "RUNNING")
                   for r in rollouts.page({"state": state}, 50, None)]
        if not pending:
            return
        for rollout in pending:
            work(rollout["id"])


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_random_changes_with_rollouts_run_to_the_end_leave_amapi_matching_the_stores(
        api, amapi_emulator, inline_limit, seed):
    import random

    from shared.policy import push as policy_push

    rng = random.Random(seed)
    inline_limit(3)
    labels = ["front", "back", "gate"]
    for label in labels:
        bulk_fleet(amapi_emulator, 3, labels=[label])
    configs: dict[str, str] = {}

    def distribution() -> dict:
        mode = rng.choice(["ALL", "CUSTOM", "CUSTOM", "NONE"])
        return ({"mode": mode, "labels": [rng.choice(labels)]} if mode == "CUSTOM"
                else {"mode": mode})

    def etag(config_id: str) -> str:
        return api.call("GET", f"/cosu-configs/{config_id}").headers["ETag"]

    for step in range(8):
        op = rng.choice(["create", "create", "content", "assign", "delete", "relabel",
                         "enroll"])
        if op == "create" or not configs:
            made = api.call("POST", "/cosu-configs", {
                "name": f"C{step}", "priority": rng.randint(1, 5) * 10,
                "app": {"packageName": "com.example.kiosk"},
                "lockdown": {"disableKeyguard": rng.random() < 0.5},
                "distribution": distribution()})
            assert made.status_code in (201, 202), made.get_json()
            configs[made.get_json()["id"]] = made.get_json()["name"]
        elif op == "content":
            target = rng.choice(sorted(configs))
            edited = api.call("PATCH", f"/cosu-configs/{target}",
                              {"lockdown": {"disableKeyguard": rng.random() < 0.5,
                                            "disableStatusBar": rng.random() < 0.5}})
            assert edited.status_code in (200, 202), edited.get_json()
        elif op == "assign":
            target = rng.choice(sorted(configs))
            edited = api.call("PATCH", f"/cosu-configs/{target}",
                              {"distribution": distribution(),
                               "priority": rng.randint(1, 5) * 10})
            assert edited.status_code in (200, 202), edited.get_json()
        elif op == "delete":
            target = rng.choice(sorted(configs))
            gone = api.call("DELETE", f"/cosu-configs/{target}", **{"If-Match": etag(target)})
            assert gone.status_code in (202, 204), gone.get_json()
            del configs[target]
        elif op == "relabel":
            device = rng.choice(devices.managed_in_space("global"))
            with roles.as_system():
                policy_push.relabel(devices.get(device["name"]), [rng.choice(labels)], True)
        else:
            [newcomer] = bulk_fleet(amapi_emulator, 1, labels=[rng.choice(labels)])
            with roles.as_system():
                devices.put(newcomer["name"], policy_push.assign_device(newcomer, "global"))
        if rng.random() < 0.6:
            run_open_rollouts()
    run_open_rollouts()

    assert all(r["state"] != "FAILED" for r in rollouts.page({}, 100, None))
    assert_amapi_matches_the_stores(amapi_emulator)
