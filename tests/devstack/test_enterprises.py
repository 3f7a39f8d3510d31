"""Enterprises, signup and which notifications an enterprise receives."""

from __future__ import annotations

import json
import re
import urllib.parse
from typing import Any

import pytest
from googleapiclient.errors import HttpError

from .harness import ENTERPRISE, TOPIC, ControlClient, Recorder

CALLBACK = "https://admin.example.com/enterprise/complete"


def test_initial_enterprise_is_listed_for_any_project(amapi: Any) -> None:
    listed = amapi.enterprises().list(projectId="whatever").execute()
    fetched = amapi.enterprises().get(name=ENTERPRISE).execute()

    assert listed == {"enterprises": [{"name": ENTERPRISE,
                                       "enterpriseDisplayName": "Local enterprise"}]}
    assert fetched == {"name": ENTERPRISE, "enterpriseDisplayName": "Local enterprise",
                       "pubsubTopic": TOPIC,
                       "enabledNotificationTypes": ["ENROLLMENT", "STATUS_REPORT", "COMMAND",
                                                    "USAGE_LOGS"]}


def test_patch_with_mask_rewires_notifications(
        amapi: Any, control: ControlClient, token: dict[str, Any], recorder: Recorder) -> None:
    topic = "projects/amapi-cosu-local/topics/elsewhere"

    patched = amapi.enterprises().patch(
        name=ENTERPRISE, updateMask="pubsubTopic,enabledNotificationTypes",
        body={"pubsubTopic": topic, "enabledNotificationTypes": ["COMMAND"],
              "enterpriseDisplayName": "ignored, not in the mask"}).execute()
    device = control.enroll(token["value"])
    control.ok("POST", f"{device['name']}:report", {"apiLevel": 35})
    amapi.enterprises().devices().issueCommand(name=device["name"], body={"type": "LOCK"}
                                               ).execute()

    assert patched["pubsubTopic"] == topic
    assert patched["enterpriseDisplayName"] == "Local enterprise"
    command = recorder.wait_for(lambda m: m.type == "COMMAND")
    assert command.topic == topic
    assert [m.type for m in recorder.messages()] == ["COMMAND"]
    recorder.clear()
    amapi.enterprises().patch(name=ENTERPRISE, updateMask="pubsubTopic,enabledNotificationTypes",
                              body={"pubsubTopic": TOPIC,
                                    "enabledNotificationTypes": ["STATUS_REPORT"]}).execute()
    control.ok("POST", f"{device['name']}:report", {"apiLevel": 35})
    assert [m.type for m in recorder.messages()] == ["STATUS_REPORT"]


def test_patch_validates_the_enum(amapi: Any) -> None:
    with pytest.raises(HttpError) as caught:
        amapi.enterprises().patch(name=ENTERPRISE, updateMask="enabledNotificationTypes",
                                  body={"enabledNotificationTypes": ["EVERYTHING"]}).execute()
    assert caught.value.status_code == 400
    assert "enterprise.enabledNotificationTypes[0]" in caught.value.reason


def test_unknown_enterprise_is_404(amapi: Any) -> None:
    with pytest.raises(HttpError) as caught:
        amapi.enterprises().policies().list(parent="enterprises/LC0nothere").execute()
    assert caught.value.status_code == 404


def test_signup_flow_creates_a_new_enterprise_once(amapi: Any, control: ControlClient) -> None:
    signup = amapi.signupUrls().create(projectId="amapi-cosu-local", callbackUrl=CALLBACK,
                                       adminEmail="admin@example.com").execute()
    assert re.fullmatch(r"signupUrls/C[0-9a-f]+", signup["name"])
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(signup["url"]).query)
    assert signup["url"].startswith("https://enterprise.google.com/signup/android/email?")
    assert query["callbackUrl"] == [CALLBACK]
    assert query["token"]

    completed = control.ok("POST", "signup:complete", {"signupUrlName": signup["name"]})
    enterprise_token = completed["enterpriseToken"]
    assert completed["callbackUrl"] == f"{CALLBACK}?enterpriseToken={enterprise_token}"
    body = {"enterpriseDisplayName": "Acme", "pubsubTopic": TOPIC,
            "enabledNotificationTypes": ["ENROLLMENT", "STATUS_REPORT", "COMMAND"]}
    created = amapi.enterprises().create(
        projectId="amapi-cosu-local", signupUrlName=signup["name"],
        enterpriseToken=enterprise_token, body=body).execute()

    assert re.fullmatch(r"enterprises/LC[0-9a-z]+", created["name"])
    assert created["name"] != ENTERPRISE
    assert {k: created[k] for k in body} == body
    assert amapi.enterprises().get(name=created["name"]).execute() == created
    with pytest.raises(HttpError) as replay:
        amapi.enterprises().create(projectId="amapi-cosu-local", signupUrlName=signup["name"],
                                   enterpriseToken=enterprise_token, body=body).execute()
    assert replay.value.status_code == 400
    assert json.loads(replay.value.content)["error"]["status"] == "FAILED_PRECONDITION"


def test_enterprise_create_needs_a_completed_signup_and_its_token(
        amapi: Any, control: ControlClient) -> None:
    signup = amapi.signupUrls().create(projectId="p", callbackUrl=CALLBACK).execute()

    with pytest.raises(HttpError) as not_completed:
        amapi.enterprises().create(projectId="p", signupUrlName=signup["name"],
                                   enterpriseToken="guess", body={}).execute()
    control.ok("POST", "signup:complete", {"signupUrlName": signup["name"]})
    with pytest.raises(HttpError) as wrong_token:
        amapi.enterprises().create(projectId="p", signupUrlName=signup["name"],
                                   enterpriseToken="guess", body={}).execute()

    assert not_completed.value.status_code == 400
    assert wrong_token.value.status_code == 400
    assert len(amapi.enterprises().list(projectId="p").execute()["enterprises"]) == 1
    assert control.call("POST", "signup:complete", {"signupUrlName": "signupUrls/nope"})[0] == 400
