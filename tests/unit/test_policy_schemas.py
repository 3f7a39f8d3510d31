"""Request and response schemas of the policy function: defaults, and errors that name the field."""

import json
import warnings

import pytest
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import ValidationError

from shared.policy import schemas
from shared.representation import violations

LOCKDOWN_DEFAULTS = {
    "keepScreenOn": [],
    "disallowSetTime": True,
    "disallowUnknownApps": True,
    "disableOsGames": True,
    "disallowInstallApps": False,
    "disableKeyguard": False,
    "disallowModifyAccounts": True,
    "networkEscapeHatch": True,
    "disableNetworkReset": False,
    "allowCertificateSelection": True,
    "disallowDisableAccounts": True,
    "disallowUserIconChange": True,
    "disallowWallpaperChange": True,
    "disableStatusBar": False,
    "disallowUninstallApps": False,
    "disallowAccountCreation": True,
}
KIOSK_DEFAULTS = {"statusBar": "HIDDEN", "navigation": "DISABLED", "globalActions": True,
                  "errorDialogs": False}
NO_DISTRIBUTION = {"mode": "NONE", "deviceIds": [], "labels": [], "userNames": []}
MINIMAL_COSU = {"name": "Lobby kiosk", "priority": 10, "app": {"packageName": "com.example.kiosk"}}


def error_fields(schema, body, **load_options):
    """The dotted field names the HTTP layer would report for `body`."""
    with pytest.raises(ValidationError) as caught:
        schema.load(body, **load_options)
    return {violation.field: violation.reason for violation in violations(caught.value.messages)}


def cosu(**changes):
    return {**MINIMAL_COSU, **changes}


def freeze(*pairs):
    return {"type": "AUTOMATIC", "freezePeriods": [{"start": s, "end": e} for s, e in pairs]}


# --- COSU configurations ------------------------------------------------------------------------

def test_a_minimal_cosu_config_gets_every_default():
    loaded = schemas.CosuConfigCreateSchema().load(MINIMAL_COSU)
    assert loaded == {
        **MINIMAL_COSU,
        "space": "global",
        "lockdown": LOCKDOWN_DEFAULTS,
        "kiosk": KIOSK_DEFAULTS,
        "systemUpdate": {"type": "AUTOMATIC", "freezePeriods": []},
        "distribution": NO_DISTRIBUTION,
        "delegatedSpaces": [],
    }


def test_omitted_lockdown_fields_get_their_defaults():
    loaded = schemas.CosuConfigCreateSchema().load(cosu(lockdown={"disableKeyguard": True}))
    assert loaded["lockdown"] == {**LOCKDOWN_DEFAULTS, "disableKeyguard": True}


def test_default_device_settings_are_the_schema_defaults():
    assert schemas.default_device_settings() == {
        "lockdown": LOCKDOWN_DEFAULTS, "kiosk": KIOSK_DEFAULTS,
        "systemUpdate": {"type": "AUTOMATIC", "freezePeriods": []}}


def test_a_full_cosu_config_loads_as_given():
    body = cosu(
        description="front desk",
        space="paris",
        lockdown={**LOCKDOWN_DEFAULTS, "keepScreenOn": ["AC", "USB", "WIRELESS"]},
        kiosk={"statusBar": "SYSTEM_INFO_ONLY", "navigation": "HOME_ONLY",
               "globalActions": False, "errorDialogs": True},
        systemUpdate={"type": "WINDOWED", "window": {"startMinutes": 120, "endMinutes": 240},
                      "freezePeriods": [{"start": "12-01", "end": "01-15"},
                                        {"start": "06-01", "end": "06-30"}]},
        distribution={"mode": "CUSTOM", "labels": ["lobby"], "deviceIds": [], "userNames": []},
        delegatedSpaces=["paris-north"],
    )
    assert schemas.CosuConfigCreateSchema().load(body) == body


@pytest.mark.parametrize(("changes", "field"), [
    ({"systemUpdate": freeze(("01-01", "04-01"))}, "systemUpdate.freezePeriods[0]"),
    ({"systemUpdate": freeze(("11-01", "02-01"))}, "systemUpdate.freezePeriods[0]"),
    ({"systemUpdate": freeze(("01-01", "01-31"), ("03-03", "03-20"))},
     "systemUpdate.freezePeriods[1]"),
    ({"systemUpdate": freeze(("01-01", "01-31"), ("01-20", "02-20"))},
     "systemUpdate.freezePeriods[1]"),
    ({"systemUpdate": freeze(("02-30", "03-10"))}, "systemUpdate.freezePeriods[0].start"),
    ({"systemUpdate": freeze(("01-05", "13-01"))}, "systemUpdate.freezePeriods[0].end"),
    ({"systemUpdate": freeze(("1-5", "02-01"))}, "systemUpdate.freezePeriods[0].start"),
    ({"systemUpdate": {"freezePeriods": [{"start": "01-05"}]}},
     "systemUpdate.freezePeriods[0].end"),
    ({"systemUpdate": freeze(*[(f"{m:02d}-01", f"{m:02d}-01") for m in range(1, 13, 2)])},
     "systemUpdate.freezePeriods"),
    ({"systemUpdate": {"type": "WINDOWED"}}, "systemUpdate.window"),
    ({"systemUpdate": {"type": "POSTPONE", "window": {"startMinutes": 0, "endMinutes": 60}}},
     "systemUpdate.window"),
    ({"systemUpdate": {"type": "WINDOWED", "window": {"startMinutes": 0, "endMinutes": 1440}}},
     "systemUpdate.window.endMinutes"),
    ({"systemUpdate": {"type": "WINDOWED", "window": {"startMinutes": "60", "endMinutes": 90}}},
     "systemUpdate.window.startMinutes"),
    ({"systemUpdate": {"type": "WINDOWED", "window": {"startMinutes": 60}}},
     "systemUpdate.window.endMinutes"),
    ({"systemUpdate": {"type": "NEVER"}}, "systemUpdate.type"),
    ({"kiosk": {"statusBar": "INVISIBLE"}}, "kiosk.statusBar"),
    ({"kiosk": {"navigation": "BACK_ONLY"}}, "kiosk.navigation"),
    ({"kiosk": {"globalActions": "yes"}}, "kiosk.globalActions"),
    ({"lockdown": {"disallowSetTime": "yes"}}, "lockdown.disallowSetTime"),
    ({"lockdown": {"disableKeyguard": 1}}, "lockdown.disableKeyguard"),
    ({"lockdown": {"networkEscapeHatch": None}}, "lockdown.networkEscapeHatch"),
    ({"lockdown": {"keepScreenOn": ["BATTERY"]}}, "lockdown.keepScreenOn[0]"),
    ({"lockdown": {"keepScreenOn": ["AC", "AC"]}}, "lockdown.keepScreenOn[1]"),
    ({"lockdown": {"keepScreenOn": "AC"}}, "lockdown.keepScreenOn"),
    ({"lockdown": {"disableCamera": True}}, "lockdown.disableCamera"),
    ({"kioskMode": True}, "kioskMode"),
    ({"priority": "5"}, "priority"),
    ({"priority": 5.5}, "priority"),
    ({"priority": True}, "priority"),
    ({"priority": -1}, "priority"),
    ({"priority": 1_000_001}, "priority"),
    ({"name": ""}, "name"),
    ({"name": "x" * 101}, "name"),
    ({"app": {"packageName": "not a package"}}, "app.packageName"),
    ({"app": {}}, "app.packageName"),
    ({"app": {"packageName": "com.example.kiosk", "type": "PUBLIC"}}, "app.type"),
    ({"space": "Paris"}, "space"),
    ({"distribution": {"mode": "SOME"}}, "distribution.mode"),
    ({"distribution": {"mode": "CUSTOM"}}, "distribution.mode"),
    ({"distribution": {"mode": "ALL", "deviceIds": ["d1"]}}, "distribution.deviceIds"),
    ({"distribution": {"mode": "CUSTOM", "labels": ["a", "a"]}}, "distribution.labels[1]"),
    ({"delegatedSpaces": ["child", "child"]}, "delegatedSpaces[1]"),
])
def test_bad_cosu_configs_name_the_field(changes, field):
    assert field in error_fields(schemas.CosuConfigCreateSchema(), cosu(**changes))


@pytest.mark.parametrize("missing", ["name", "priority", "app"])
def test_cosu_required_fields(missing):
    body = {key: value for key, value in MINIMAL_COSU.items() if key != missing}
    assert missing in error_fields(schemas.CosuConfigCreateSchema(), body)


def test_freeze_period_reasons_say_what_is_wrong():
    found = error_fields(schemas.CosuConfigCreateSchema(),
                         cosu(systemUpdate=freeze(("01-01", "01-31"), ("03-03", "03-20"))))
    assert "30 days" in found["systemUpdate.freezePeriods[1]"]
    assert "60 days" in found["systemUpdate.freezePeriods[1]"]
    found = error_fields(schemas.CosuConfigCreateSchema(),
                         cosu(systemUpdate=freeze(("01-01", "04-01"))))
    assert "91 days" in found["systemUpdate.freezePeriods[0]"]


def test_valid_freeze_periods_load():
    body = cosu(systemUpdate=freeze(("12-01", "01-15"), ("03-17", "04-30"), ("02-29", "02-29")))
    assert "systemUpdate.freezePeriods[2]" in error_fields(schemas.CosuConfigCreateSchema(),
                                                           body)
    body = cosu(systemUpdate=freeze(("12-01", "01-15"), ("03-17", "04-30")))
    assert schemas.CosuConfigCreateSchema().load(body)["systemUpdate"]["freezePeriods"] == [
        {"start": "12-01", "end": "01-15"}, {"start": "03-17", "end": "04-30"}]


def test_cosu_patch_keeps_omitted_fields_out():
    assert schemas.CosuConfigPatchSchema().load({}) == {}
    assert schemas.CosuConfigPatchSchema().load({"priority": 3}) == {"priority": 3}


def test_cosu_patch_replaces_a_given_object_whole_with_defaults():
    loaded = schemas.CosuConfigPatchSchema().load({"lockdown": {"disableKeyguard": True}})
    assert loaded == {"lockdown": {**LOCKDOWN_DEFAULTS, "disableKeyguard": True}}
    # The HTTP layer may ask for a partial load; nested defaults still apply.
    loaded = schemas.CosuConfigPatchSchema().load({"kiosk": {"errorDialogs": True}},
                                                  partial=True)
    assert loaded == {"kiosk": {**KIOSK_DEFAULTS, "errorDialogs": True}}


def test_cosu_patch_null_clears_only_optional_fields():
    assert schemas.CosuConfigPatchSchema().load({"description": None}) == {"description": None}
    for field in ("name", "priority", "app", "lockdown"):
        assert field in error_fields(schemas.CosuConfigPatchSchema(), {field: None})


def test_a_patch_null_survives_a_merge_loaded_again_through_the_create_schema():
    stored = schemas.CosuConfigCreateSchema().load(cosu(description="front desk"))
    patch = schemas.CosuConfigPatchSchema().load({"description": None, "priority": 7})
    merged = schemas.CosuConfigCreateSchema().load({**stored, **patch})
    assert "description" not in merged
    assert merged["priority"] == 7
    app = schemas.AppCreateSchema().load({**MINIMAL_APP, "minimumVersionCode": 3})
    cleared = {**app, **schemas.AppPatchSchema().load({"minimumVersionCode": None})}
    assert "minimumVersionCode" not in schemas.AppCreateSchema().load(cleared)


@pytest.mark.parametrize("field", schemas.IMMUTABLE_COSU_FIELDS)
def test_cosu_patch_refuses_immutable_fields(field):
    found = error_fields(schemas.CosuConfigPatchSchema(), {field: "x", "priority": 2})
    assert "immutable" in found[field]


def test_cosu_patch_validates_what_it_is_given():
    found = error_fields(schemas.CosuConfigPatchSchema(), {"systemUpdate": {"type": "WINDOWED"}})
    assert "systemUpdate.window" in found
    assert "kioskMode" in error_fields(schemas.CosuConfigPatchSchema(), {"kioskMode": True})


def test_cosu_response_has_server_fields():
    stored = {**schemas.CosuConfigCreateSchema().load(MINIMAL_COSU), "id": "c1",
              "createTime": "2026-11-21T10:00:00Z", "updateTime": "2026-11-21T10:00:00Z",
              "etag": '"e"', "policyName": "enterprises/E/policies/cosu-c1"}
    dumped = schemas.CosuConfigSchema().dump(stored)
    assert dumped == stored
    assert schemas.CosuConfigListSchema().dump({"cosuConfigs": [stored]})["cosuConfigs"] == [
        stored]


# --- App catalog --------------------------------------------------------------------------------

MINIMAL_APP = {"packageName": "com.example.app", "type": "PUBLIC"}


def test_a_minimal_app_gets_its_defaults():
    assert schemas.AppCreateSchema().load(MINIMAL_APP) == {
        **MINIMAL_APP, "installOnDevice": False, "silentInstall": False,
        "distribution": NO_DISTRIBUTION, "delegatedSpaces": [], "space": "global"}


def test_a_full_app_loads_as_given():
    body = {**MINIMAL_APP, "title": "Example", "type": "PRIVATE", "installOnDevice": True,
            "silentInstall": True,
            "managedConfiguration": {"server": "https://x.example", "retries": 3,
                                     "nested": [{"a": True}]},
            "autoUpdateMode": "HIGH_PRIORITY", "minimumVersionCode": 42,
            "trackIds": ["beta"], "installConstraint": {"network": "UNMETERED",
                                                        "charging": True, "idle": False},
            "distribution": {"mode": "ALL", "deviceIds": [], "labels": [], "userNames": []},
            "delegatedSpaces": [], "space": "paris"}
    assert schemas.AppCreateSchema().load(body) == body


def test_install_constraint_defaults():
    loaded = schemas.AppCreateSchema().load({**MINIMAL_APP, "installConstraint": {}})
    assert loaded["installConstraint"] == {"network": "ANY", "charging": False, "idle": False}


@pytest.mark.parametrize(("changes", "field"), [
    ({"packageName": "com"}, "packageName"),
    ({"packageName": "1com.example"}, "packageName"),
    ({"packageName": "com..example"}, "packageName"),
    ({"packageName": "com.example.app\n"}, "packageName"),
    ({"packageName": "com.a" + "b" * 251}, "packageName"),
    ({"type": "APK"}, "type"),
    ({"installOnDevice": "yes"}, "installOnDevice"),
    ({"silentInstall": 1}, "silentInstall"),
    ({"managedConfiguration": "server=x"}, "managedConfiguration"),
    ({"managedConfiguration": {"blob": "x" * (300 * 1024)}}, "managedConfiguration"),
    ({"autoUpdateMode": "ALWAYS"}, "autoUpdateMode"),
    ({"minimumVersionCode": 0}, "minimumVersionCode"),
    ({"minimumVersionCode": "42"}, "minimumVersionCode"),
    ({"minimumVersionCode": 2**31}, "minimumVersionCode"),
    ({"trackIds": ["beta", "beta"]}, "trackIds[1]"),
    ({"trackIds": [7]}, "trackIds[0]"),
    ({"installConstraint": {"network": "WIFI"}}, "installConstraint.network"),
    ({"installConstraint": {"charging": "yes"}}, "installConstraint.charging"),
    ({"distribution": {"mode": "NONE", "userNames": ["kiosk-op"]}}, "distribution.userNames"),
    ({"oemConfig": {}}, "oemConfig"),
])
def test_bad_apps_name_the_field(changes, field):
    assert field in error_fields(schemas.AppCreateSchema(), {**MINIMAL_APP, **changes})


def test_app_package_name_at_255_characters_is_accepted():
    name = "com.a" + "b" * 250
    assert len(name) == 255
    assert schemas.AppCreateSchema().load({**MINIMAL_APP, "packageName": name})


@pytest.mark.parametrize("field", ["packageName", "type", "space", "id", "etag"])
def test_app_patch_refuses_immutable_fields(field):
    assert field in schemas.IMMUTABLE_APP_FIELDS
    found = error_fields(schemas.AppPatchSchema(), {field: "x"})
    assert "immutable" in found[field]


def test_app_patch_loads_only_what_is_given():
    assert schemas.AppPatchSchema().load({"installOnDevice": True}) == {"installOnDevice": True}
    assert schemas.AppPatchSchema().load({"minimumVersionCode": None, "title": None}) == {
        "minimumVersionCode": None, "title": None}
    assert "installOnDevice" in error_fields(schemas.AppPatchSchema(), {"installOnDevice": None})
    assert "autoUpdateMode" in error_fields(schemas.AppPatchSchema(), {"autoUpdateMode": "NO"})


def test_app_response_and_feedback():
    stored = {**schemas.AppCreateSchema().load(MINIMAL_APP), "id": "com.example.app",
              "createTime": "t", "updateTime": "t", "etag": '"e"'}
    assert schemas.AppListSchema().dump({"apps": [stored], "nextPageToken": "n"}) == {
        "apps": [stored], "nextPageToken": "n"}
    feedback = {"packageName": "com.example.app", "devicesReporting": 2,
                "bySeverity": {"ERROR": 1, "INFO": 3},
                "states": [{"deviceId": "d1", "key": "config", "severity": "ERROR",
                            "message": "bad server", "data": "{}",
                            "lastUpdateTime": "2026-11-21T10:00:00Z"}]}
    assert schemas.AppFeedbackSchema().dump(feedback) == feedback


# --- Wi-Fi --------------------------------------------------------------------------------------

def wifi(**changes):
    """A Wi-Fi body; a change to None leaves that field out."""
    body = {"name": "Store", "ssid": "StoreWiFi", "security": "WPA_PSK",
            "passphrase": "correct horse", **changes}
    return {key: value for key, value in body.items() if value is not None}


def test_a_psk_network_gets_its_defaults():
    assert schemas.WifiConfigCreateSchema().load(wifi()) == {
        **wifi(), "hiddenSsid": False, "autoConnect": True, "distribution": NO_DISTRIBUTION,
        "delegatedSpaces": [], "space": "global"}


@pytest.mark.parametrize("changes", [
    {"security": "NONE", "passphrase": None},
    {"passphrase": "12345678"},
    {"passphrase": "x" * 63},
    {"passphrase": "a1" * 32},
    {"security": "WEP_PSK", "passphrase": "abcde"},
    {"security": "WEP_PSK", "passphrase": "abcdefghijklm"},
    {"security": "WEP_PSK", "passphrase": "0123456789"},
    {"security": "WEP_PSK", "passphrase": "0123456789abcdef0123456789"},
    {"security": "WPA_EAP", "passphrase": None, "eap": {"outer": "PEAP", "inner": "MSCHAPv2",
                                                        "identity": "kiosk", "password": "pw"}},
    {"security": "WPA_EAP", "passphrase": None, "eap": {"outer": "EAP-TLS"}},
    {"ssid": "€" * 10 + "ab"},
    {"hiddenSsid": True, "autoConnect": False},
])
def test_valid_networks_load(changes):
    assert schemas.WifiConfigCreateSchema().load(wifi(**changes))


@pytest.mark.parametrize(("changes", "field"), [
    ({"security": "NONE"}, "passphrase"),
    ({"security": "WPA_PSK", "passphrase": None}, "passphrase"),
    ({"passphrase": "short"}, "passphrase"),
    ({"passphrase": "x" * 64}, "passphrase"),
    ({"passphrase": "x" * 65}, "passphrase"),
    ({"passphrase": "pässwörd-123"}, "passphrase"),
    ({"security": "WEP_PSK", "passphrase": "abcdef"}, "passphrase"),
    ({"security": "WEP_PSK", "passphrase": "012345678g"}, "passphrase"),
    ({"security": "WPA_EAP"}, "passphrase"),
    ({"security": "WPA_EAP", "passphrase": None}, "eap"),
    ({"eap": {"outer": "PEAP"}}, "eap"),
    ({"security": "WPA_EAP", "passphrase": None, "eap": {"outer": "LEAP"}}, "eap.outer"),
    ({"security": "WPA_EAP", "passphrase": None, "eap": {"outer": "EAP-TLS", "inner": "PAP"}},
     "eap.inner"),
    ({"security": "WPA_EAP", "passphrase": None, "eap": {"inner": "PAP"}}, "eap.outer"),
    ({"security": "WPA3"}, "security"),
    ({"ssid": ""}, "ssid"),
    ({"ssid": "€" * 11}, "ssid"),
    ({"ssid": "\ud800"}, "ssid"),
    ({"name": ""}, "name"),
    ({"hiddenSsid": "false"}, "hiddenSsid"),
    ({"autoConnect": 0}, "autoConnect"),
    ({"hasPassphrase": True}, "hasPassphrase"),
])
def test_bad_networks_name_the_field(changes, field):
    assert field in error_fields(schemas.WifiConfigCreateSchema(), wifi(**changes))


def test_wifi_response_never_carries_secrets():
    stored = {**schemas.WifiConfigCreateSchema().load(wifi(
        security="WPA_EAP", passphrase=None,
        eap={"outer": "TTLS", "inner": "PAP", "identity": "kiosk", "password": "eap-s3cret"})),
        "id": "w1"}
    dumped = schemas.WifiConfigSchema().dump(stored)
    assert dumped["hasPassphrase"] is False
    assert dumped["eap"] == {"outer": "TTLS", "inner": "PAP", "identity": "kiosk",
                             "hasPassword": True}
    assert "eap-s3cret" not in json.dumps(dumped)

    psk = {**schemas.WifiConfigCreateSchema().load(wifi(passphrase="psk-s3cret-1")), "id": "w2"}
    dumped = schemas.WifiConfigListSchema().dump({"wifiConfigs": [psk]})["wifiConfigs"][0]
    assert dumped["hasPassphrase"] is True
    assert "passphrase" not in dumped
    assert "psk-s3cret-1" not in json.dumps(dumped)
    assert psk["passphrase"] == "psk-s3cret-1"  # dumping does not touch the stored dict


def test_wifi_patch_leaves_secret_checks_to_the_merge():
    patch = schemas.WifiConfigPatchSchema().load({"passphrase": "short"})
    assert patch == {"passphrase": "short"}
    stored = schemas.WifiConfigCreateSchema().load(wifi())
    assert schemas.wifi_security_errors({**stored, **patch}) == {
        "passphrase": ["must be 8-63 printable ASCII characters, or 64 hexadecimal digits"]}
    opened = {**stored, **schemas.WifiConfigPatchSchema().load({"security": "NONE",
                                                                 "passphrase": None})}
    assert schemas.wifi_security_errors(opened) == {}
    assert "space" in error_fields(schemas.WifiConfigPatchSchema(), {"space": "paris"})
    assert "ssid" in error_fields(schemas.WifiConfigPatchSchema(), {"ssid": ""})


# --- VPN ----------------------------------------------------------------------------------------

def test_vpn_config_defaults_and_errors():
    body = {"name": "Corp VPN", "packageName": "com.example.vpn"}
    assert schemas.VpnConfigCreateSchema().load(body) == {
        **body, "lockdownEnabled": False, "distribution": NO_DISTRIBUTION,
        "delegatedSpaces": [], "space": "global"}
    assert "packageName" in error_fields(schemas.VpnConfigCreateSchema(),
                                         {**body, "packageName": "vpn"})
    assert "lockdownEnabled" in error_fields(schemas.VpnConfigCreateSchema(),
                                             {**body, "lockdownEnabled": "true"})
    assert "packageName" in error_fields(schemas.VpnConfigCreateSchema(), {"name": "x"})
    assert schemas.VpnConfigPatchSchema().load({"lockdownEnabled": True}) == {
        "lockdownEnabled": True}
    assert "id" in error_fields(schemas.VpnConfigPatchSchema(), {"id": "v1"})
    stored = {**schemas.VpnConfigCreateSchema().load(body), "id": "v1", "etag": '"e"'}
    assert schemas.VpnConfigListSchema().dump({"vpnConfigs": [stored]}) == {
        "vpnConfigs": [stored]}


# --- Documentation ------------------------------------------------------------------------------

def test_every_schema_documents_itself_in_openapi():
    spec = APISpec(title="policy", version="0", openapi_version="3.1.0",
                   plugins=[MarshmallowPlugin()])
    documented = [schemas.AppCreateSchema, schemas.AppPatchSchema, schemas.AppListSchema,
                  schemas.AppFeedbackSchema, schemas.WifiConfigCreateSchema,
                  schemas.WifiConfigPatchSchema, schemas.WifiConfigListSchema,
                  schemas.VpnConfigCreateSchema, schemas.VpnConfigPatchSchema,
                  schemas.VpnConfigListSchema, schemas.CosuConfigCreateSchema,
                  schemas.CosuConfigPatchSchema, schemas.CosuConfigListSchema]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for schema in documented:
            spec.components.schema(schema.__name__.removesuffix("Schema"), schema=schema)
    document = spec.to_dict()["components"]["schemas"]
    assert "passphrase" not in document["WifiConfig"]["properties"]
    assert document["WifiConfigCreate"]["properties"]["passphrase"]["writeOnly"] is True
    assert "required" not in document["CosuConfigPatch"]
    assert "space" not in document["CosuConfigPatch"]["properties"]
    assert document["CosuConfigCreate"]["required"] == ["app", "name", "priority"]
