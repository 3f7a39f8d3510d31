"""Finding devices (every filter, one indexed query), exporting the inventory as a stream, and
why a device has its policy (its detail, and the devices a configuration reaches)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from google.cloud.firestore_v1.query import Query

from shared.devices.projection import project
from shared.store.client import db
from tests.integration.callers import Caller
from tests.integration.policy_helpers import managed_device

ADMIN = "admin@example.com"
KIOSK = "com.example.kiosk"
FLEET = 1_000
# The export's documented columns: a change here breaks operators' spreadsheets and scripts.
EXPORT_COLUMNS = ("id", "name", "space", "userName", "profileId", "labels", "state",
                  "appliedState", "managementMode", "enrollTime", "lastStatusReportTime",
                  "lastPolicySyncTime", "policyName", "appliedPolicyVersion", "compliant",
                  "manufacturer", "brand", "model", "serialNumber", "imei", "androidVersion",
                  "securityPatchLevel", "apiLevel", "enrollmentDecision")


def amapi_payload(index: int) -> dict:
    """An AMAPI Device as a status report carries it (the inventory keeps its projection)."""
    return {
        "name": f"enterprises/LC00tests/devices/d{index:05d}", "state": "ACTIVE",
        "appliedState": "ACTIVE", "managementMode": "DEVICE_OWNER", "ownership": "COMPANY_OWNED",
        "apiLevel": 34, "enrollmentTime": "2026-01-05T10:00:00Z",
        "lastStatusReportTime": "2026-01-06T10:00:00Z",
        "hardwareInfo": {"serialNumber": f"SN-{index:05d}",
                         "manufacturer": "Zebra" if index % 2 else "Honeywell",
                         "brand": "Zebra" if index % 2 else "Honeywell",
                         "model": "TC58" if index % 3 else "CT40"},
        "softwareInfo": {"androidVersion": "14" if index % 4 else "13",
                         "securityPatchLevel": "2026-10-01"},
        "networkInfo": {"imei": f"35{index:013d}"},
        "appliedPolicyVersion": "3", "policyCompliant": index % 5 != 0,
        "applicationReports": [{"packageName": KIOSK, "versionName": "1.0",
                                "state": "INSTALLED"}]}


def seed_fleet(count: int = FLEET) -> list[str]:
    """`count` inventory records as enrollment and status reports leave them, written in
    batches (the cheapest way to a fleet this size)."""
    client = db()
    ids = []
    for start in range(0, count, 500):
        batch = client.batch()
        for index in range(start, min(start + 500, count)):
            payload = amapi_payload(index)
            record = {**project(payload), "name": payload["name"], "space": "global",
                      "userName": "kiosk-operator", "profileId": "p1",
                      "labels": ["lobby"] if index % 10 == 0 else [],
                      "policyName": "enterprises/LC00tests/policies/holding-global",
                      "enrollmentDecision": {"result": "REJECTED" if index % 50 == 7
                                             else "ALLOWED", "reason": ""}}
            ids.append(f"d{index:05d}")
            batch.set(client.collection("devices").document(ids[-1]), record)
        batch.commit()
    return ids


@pytest.fixture
def device_queries(monkeypatch):
    """The queries of the `devices` collection run from now on (each a list of its filters)."""
    issued: list[str] = []
    stream = Query.stream

    def counted(self, *args, **kwargs):
        if self._parent.id == "devices":
            issued.append(str(self._to_protobuf().where))
        return stream(self, *args, **kwargs)

    monkeypatch.setattr(Query, "stream", counted)
    return issued


@pytest.fixture
def admin(function_apps, firestore):
    return Caller(function_apps, ADMIN)


def listed(admin, query):
    found, token = [], None
    while True:
        page = admin.call("commands", "GET", f"/devices?pageSize=100&{query}"
                                             + (f"&pageToken={token}" if token else ""))
        assert page.status_code == 200, page.get_json()
        found += [d["id"] for d in page.get_json()["devices"]]
        token = page.get_json().get("nextPageToken")
        if not token:
            return found


def test_a_device_is_found_by_serial_number_among_a_thousand_in_one_query(admin,
                                                                          device_queries):
    seed_fleet()
    device_queries.clear()
    found = admin.call("commands", "GET", "/devices?serialNumber=SN-00500")
    assert found.status_code == 200, found.get_json()
    devices = found.get_json()["devices"]
    assert [d["id"] for d in devices] == ["d00500"]
    assert devices[0]["hardware"]["serialNumber"] == "SN-00500"
    assert len(device_queries) == 1 and "hardware.serialNumber" in device_queries[0]
    assert "nextPageToken" not in found.get_json()

    by_imei = admin.call("commands", "GET", f"/devices?imei=35{733:013d}").get_json()
    assert [d["id"] for d in by_imei["devices"]] == ["d00733"]
    assert admin.call("commands", "GET",
                      "/devices?serialNumber=SN-99999").get_json()["devices"] == []


def test_filters_combine_and_match_exactly(admin):
    ids = seed_fleet(120)
    expect = {i for n, i in enumerate(ids) if n % 2 and n % 3 == 0 and n % 4 == 0}
    combined = listed(admin, "manufacturer=Zebra&model=CT40&androidVersion=13&space=global")
    assert set(combined) == expect and len(combined) == len(expect)
    assert listed(admin, "manufacturer=zebra") == []  # exact, as the device reports it
    rejected = listed(admin, "enrollmentDecision=REJECTED")
    assert set(rejected) == {i for n, i in enumerate(ids) if n % 50 == 7}
    lobby_zebra = listed(admin, "label=lobby&manufacturer=Honeywell&compliant=false")
    assert set(lobby_zebra) == {i for n, i in enumerate(ids) if n % 10 == 0 and n % 5 == 0}
    policy = "enterprises/LC00tests/policies/holding-global"
    assert len(listed(admin, f"policyName={policy}&userName=kiosk-operator")) == 120
    for bad in ("enrollmentDecision=MAYBE", "serial=SN-00001", "serialNumber=a&serialNumber=b"):
        refused = admin.call("commands", "GET", f"/devices?{bad}")
        assert refused.status_code == 400, bad
        assert refused.get_json()["error"]["status"] == "INVALID_ARGUMENT"


def test_the_csv_export_of_a_thousand_devices_streams_page_by_page(admin, device_queries):
    seed_fleet()
    device_queries.clear()
    response = admin.call("commands", "GET", "/devices:export?format=csv")
    assert response.status_code == 200
    assert response.is_streamed
    assert response.headers["Content-Type"].startswith("text/csv")
    assert 'filename="devices.csv"' in response.headers["Content-Disposition"]
    assert len(device_queries) == 1  # only the first page is read before the answer starts
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(device_queries) == 3  # 500, 500, then the empty page that ends it
    assert len(rows) == FLEET
    assert tuple(rows[0]) == EXPORT_COLUMNS
    assert len({r["id"] for r in rows}) == FLEET
    row = next(r for r in rows if r["id"] == "d00500")
    assert (row["serialNumber"], row["imei"], row["manufacturer"], row["model"],
            row["androidVersion"], row["compliant"], row["labels"], row["enrollmentDecision"]
            ) == ("SN-00500", f"35{500:013d}", "Honeywell", "TC58", "13", "false", "lobby",
                  "ALLOWED")


def test_the_jsonl_export_has_one_object_per_device_and_honours_the_filters(admin):
    seed_fleet()
    response = admin.call("commands", "GET",
                          "/devices:export?format=jsonl&model=CT40&manufacturer=Zebra")
    assert response.status_code == 200 and response.is_streamed
    assert response.headers["Content-Type"] == "application/x-ndjson"
    lines = response.get_data(as_text=True).splitlines()
    objects = [json.loads(line) for line in lines]
    assert len(objects) == len([n for n in range(FLEET) if n % 2 and n % 3 == 0])
    assert all(tuple(o) == EXPORT_COLUMNS for o in objects)
    assert {(o["manufacturer"], o["model"]) for o in objects} == {("Zebra", "CT40")}
    assert isinstance(objects[0]["labels"], list)
    assert isinstance(objects[0]["compliant"], bool)


def test_an_export_refused_or_misasked_is_an_error_before_any_row(admin, function_apps):
    seed_fleet(3)
    bad = admin.call("commands", "GET", "/devices:export?format=xlsx")
    assert bad.status_code == 400 and bad.get_json()["error"]["details"][0]["field"] == "format"
    assert admin.call("commands", "GET", "/devices:export?color=red").status_code == 400
    stranger = Caller(function_apps, "stranger@example.com")
    assert stranger.call("commands", "GET", "/devices:export").status_code == 403
    default = admin.call("commands", "GET", "/devices:export")
    assert default.status_code == 200 and default.headers["Content-Type"].startswith("text/csv")
    assert len(default.get_data(as_text=True).splitlines()) == 4


def test_a_csv_cell_a_spreadsheet_would_run_is_defused(admin):
    client = db()
    payload = amapi_payload(1)
    payload["hardwareInfo"]["serialNumber"] = "=HYPERLINK(\"http://evil\")"
    client.collection("devices").document("d00001").set(
        {**project(payload), "name": payload["name"], "space": "global"})
    text = admin.call("commands", "GET", "/devices:export").get_data(as_text=True)
    row = next(csv.DictReader(io.StringIO(text)))
    assert row["serialNumber"] == "'=HYPERLINK(\"http://evil\")"
    jsonl = admin.call("commands", "GET", "/devices:export?format=jsonl").get_data(as_text=True)
    assert json.loads(jsonl)["serialNumber"] == "=HYPERLINK(\"http://evil\")"


@pytest.fixture
def configured(admin, amapi_emulator, function_apps):
    """Two configurations: "Everyone" (all devices) and "Lobby" (label lobby, higher
    priority), and three managed devices, one of them in the lobby."""
    assert admin.call("enroll", "POST", "/users", {"userName": "kiosk-operator"}
                      ).status_code == 201
    for package, title in ((KIOSK, None), ("com.example.maps", "Maps")):
        created = admin.call("policy", "POST", "/apps", {
            "packageName": package, "type": "PUBLIC", **({"title": title} if title else {})})
        assert created.status_code == 201, created.get_json()
    devices = [managed_device(amapi_emulator, f"SN-{n}") for n in range(3)]
    configs = {}
    for name, priority, distribution in (
            ("Everyone", 0, {"mode": "ALL"}),
            ("Lobby", 5, {"mode": "CUSTOM", "labels": ["lobby"]})):
        created = admin.call("policy", "POST", "/cosu-configs", {
            "name": name, "priority": priority, "app": {"packageName": KIOSK},
            "distribution": distribution})
        assert created.status_code == 201, created.get_json()
        configs[name] = created.get_json()["id"]
    moved = admin.call("commands", "PATCH", f"/devices/{devices[0]['id']}",
                       {"labels": ["lobby"]})
    assert moved.status_code == 200, moved.get_json()
    return {"devices": [d["id"] for d in devices], "configs": configs}


def reached(admin, config_id):
    """The devices of a configuration by both routes, which must agree."""
    by_filter = listed(admin, f"configId={config_id}")
    by_config, token = [], None
    while True:
        page = admin.call("policy", "GET", f"/cosu-configs/{config_id}/devices?pageSize=1"
                                           + (f"&pageToken={token}" if token else ""))
        assert page.status_code == 200, page.get_json()
        by_config += [d["id"] for d in page.get_json()["devices"]]
        token = page.get_json().get("nextPageToken")
        if not token:
            break
    assert by_filter == by_config
    return sorted(by_filter)


def test_config_filter_and_config_devices_agree_as_a_label_change_moves_a_device(admin,
                                                                                configured):
    first, second, third = configured["devices"]
    everyone, lobby = configured["configs"]["Everyone"], configured["configs"]["Lobby"]
    assert reached(admin, lobby) == [first]
    assert reached(admin, everyone) == sorted([second, third])

    assert admin.call("commands", "PATCH", f"/devices/{second}",
                      {"labels": ["lobby"]}).status_code == 200
    assert admin.call("commands", "PATCH", f"/devices/{first}", {"labels": []}
                      ).status_code == 200
    assert reached(admin, lobby) == [second]
    assert reached(admin, everyone) == sorted([first, third])
    assert listed(admin, f"configId={lobby}&userName=kiosk-operator&space=global") == [second]
    assert listed(admin, f"configId={everyone}&label=lobby") == []
    assert admin.call("policy", "GET", "/cosu-configs/nope/devices").status_code == 404


def test_device_detail_names_its_configuration_apps_and_why(admin, configured):
    first, second, _ = configured["devices"]
    detail = admin.call("commands", "GET", f"/devices/{first}").get_json()
    effective = detail["effective"]
    assert effective["cosuConfig"] == {"id": configured["configs"]["Lobby"], "name": "Lobby",
                                       "priority": 5}
    assert [(a["packageName"], a["title"]) for a in effective["apps"]] == [(KIOSK, KIOSK)]
    assert effective["wifi"] == [] and effective["vpn"] is None
    assert "'Lobby'" in effective["reason"] and "'Everyone'" in effective["reason"]
    other = admin.call("commands", "GET", f"/devices/{second}").get_json()["effective"]
    assert other["cosuConfig"]["name"] == "Everyone"
