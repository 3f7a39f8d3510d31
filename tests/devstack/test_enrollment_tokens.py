"""enterprises.enrollmentTokens through the real client."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from googleapiclient.errors import HttpError

from devstack.amapi_emulator.clock import parse_timestamp

from .harness import ENTERPRISE

QR_KEYS = {
    "android.app.extra.PROVISIONING_DEVICE_ADMIN_COMPONENT_NAME",
    "android.app.extra.PROVISIONING_DEVICE_ADMIN_SIGNATURE_CHECKSUM",
    "android.app.extra.PROVISIONING_DEVICE_ADMIN_PACKAGE_DOWNLOAD_LOCATION",
    "android.app.extra.PROVISIONING_ADMIN_EXTRAS_BUNDLE",
}


def tokens(amapi: Any) -> Any:
    return amapi.enterprises().enrollmentTokens()


def test_create_generates_value_expiry_and_qr_code(amapi: Any) -> None:
    before = datetime.now(UTC)
    created = tokens(amapi).create(parent=ENTERPRISE, body={}).execute()

    assert re.fullmatch(r"enterprises/LC00local/enrollmentTokens/[A-Za-z0-9]+", created["name"])
    assert re.fullmatch(r"[A-Z]{20}", created["value"])
    assert created["expirationTimestamp"].endswith("Z")
    expires = parse_timestamp(created["expirationTimestamp"])
    assert timedelta(minutes=59) < expires - before < timedelta(minutes=61)
    qr = json.loads(created["qrCode"])
    assert set(qr) == QR_KEYS
    assert qr["android.app.extra.PROVISIONING_DEVICE_ADMIN_COMPONENT_NAME"] == (
        "com.google.android.apps.work.clouddpc/.receivers.CloudDeviceAdminReceiver")
    assert qr["android.app.extra.PROVISIONING_ADMIN_EXTRAS_BUNDLE"] == {
        "com.google.android.apps.work.clouddpc.EXTRA_ENROLLMENT_TOKEN": created["value"]}


def test_create_honours_duration_and_echoes_request_fields(amapi: Any) -> None:
    body = {"policyName": "kiosk", "duration": "2592000s", "oneTimeOnly": True,
            "allowPersonalUsage": "PERSONAL_USAGE_DISALLOWED_USERLESS",
            "additionalData": '{"profileId":"p1"}'}
    before = datetime.now(UTC)
    created = tokens(amapi).create(parent=ENTERPRISE, body=body).execute()

    expires = parse_timestamp(created["expirationTimestamp"])
    assert abs(expires - before - timedelta(days=30)) < timedelta(minutes=1)
    assert created["policyName"] == f"{ENTERPRISE}/policies/kiosk"
    assert created["oneTimeOnly"] is True
    assert created["allowPersonalUsage"] == "PERSONAL_USAGE_DISALLOWED_USERLESS"
    assert created["additionalData"] == '{"profileId":"p1"}'
    assert created["duration"] == "2592000s"


def test_create_rejects_oversized_additional_data(amapi: Any) -> None:
    with pytest.raises(HttpError) as caught:
        tokens(amapi).create(parent=ENTERPRISE, body={"additionalData": "x" * 1025}).execute()
    assert caught.value.status_code == 400
    assert "additionalData" in caught.value.reason


def test_create_rejects_malformed_duration(amapi: Any) -> None:
    with pytest.raises(HttpError) as caught:
        tokens(amapi).create(parent=ENTERPRISE, body={"duration": "1h"}).execute()
    assert caught.value.status_code == 400
    assert "enrollmentToken.duration" in caught.value.reason


def test_get_and_list_show_active_tokens_in_partial_view(amapi: Any) -> None:
    created = tokens(amapi).create(
        parent=ENTERPRISE, body={"additionalData": "secret", "policyName": "kiosk"}).execute()

    fetched = tokens(amapi).get(name=created["name"]).execute()
    listed = tokens(amapi).list(parent=ENTERPRISE).execute()["enrollmentTokens"]

    partial = {key: created[key] for key in ("name", "expirationTimestamp", "value", "qrCode")}
    assert fetched == partial
    assert listed == [partial]


def test_delete_removes_the_token(amapi: Any) -> None:
    created = tokens(amapi).create(parent=ENTERPRISE, body={}).execute()

    assert tokens(amapi).delete(name=created["name"]).execute() == {}

    with pytest.raises(HttpError) as caught:
        tokens(amapi).get(name=created["name"]).execute()
    assert caught.value.status_code == 404
    assert tokens(amapi).list(parent=ENTERPRISE).execute() == {}


def test_expired_tokens_are_neither_got_nor_listed(amapi: Any, control: Any) -> None:
    created = tokens(amapi).create(parent=ENTERPRISE, body={"duration": "120s"}).execute()

    control.ok("POST", "clock", {"offsetSeconds": 121})

    with pytest.raises(HttpError) as caught:
        tokens(amapi).get(name=created["name"]).execute()
    assert caught.value.status_code == 404
    assert tokens(amapi).list(parent=ENTERPRISE).execute() == {}
