"""One AMAPI emulator per session, reset before every test, driven by the real Google client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import google.auth.credentials
import pytest
from googleapiclient.discovery import build

from devstack.amapi_emulator import EmulatorServer

from .harness import ENTERPRISE, TOPIC_PREFIX, ControlClient, Recorder, schema_problems


@pytest.fixture(scope="session")
def recorder() -> Recorder:
    """The publisher every test's notifications go to."""
    return Recorder()


@pytest.fixture(scope="session")
def server(recorder: Recorder) -> Iterator[EmulatorServer]:
    """The emulator, with short device delays."""
    emulator = EmulatorServer(port=0, publisher=recorder, command_delay=0.05, apply_delay=0.05)
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture(autouse=True)
def fresh_emulator(server: EmulatorServer, recorder: Recorder) -> Iterator[None]:
    """Reset before each test; afterwards every notification must match its schema."""
    server.reset()
    recorder.clear()
    yield
    for message in recorder.messages():
        assert message.topic.startswith(TOPIC_PREFIX)
        assert message.attributes == {"notificationType": message.type}
        assert schema_problems(message) == [], message.payload


@pytest.fixture(scope="session")
def amapi(server: EmulatorServer) -> Any:
    """The real googleapiclient AMAPI v1 service, pointed at the emulator (no network)."""
    return build("androidmanagement", "v1", static_discovery=True, cache_discovery=False,
                 credentials=google.auth.credentials.AnonymousCredentials(),
                 client_options={"api_endpoint": server.url})


@pytest.fixture
def control(server: EmulatorServer) -> ControlClient:
    """The control API client."""
    return ControlClient(server.url)


@pytest.fixture
def token(amapi: Any) -> dict[str, Any]:
    """A fresh multi-use enrollment token on policy `kiosk` (the policy exists)."""
    amapi.enterprises().policies().patch(
        name=f"{ENTERPRISE}/policies/kiosk", body={"funDisabled": True}).execute()
    created: dict[str, Any] = amapi.enterprises().enrollmentTokens().create(
        parent=ENTERPRISE, body={"policyName": "kiosk", "additionalData": '{"profileId":"p1"}',
                                 "allowPersonalUsage": "PERSONAL_USAGE_DISALLOWED_USERLESS"},
    ).execute()
    return created


@pytest.fixture
def device(control: ControlClient, token: dict[str, Any]) -> dict[str, Any]:
    """One enrolled device on policy `kiosk`."""
    return control.enroll(token["value"])
