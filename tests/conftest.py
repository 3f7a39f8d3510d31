"""Session-wide test environment on Google's real Firestore and Pub/Sub emulators.

Ports, the project id and the local signing key are chosen when this file is imported, before
any code reads its configuration; the emulators themselves start once per session, lazily, for
the tests that need them. Firestore is emptied before each test that uses it.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devstack import emulators, local_auth
from devstack.stack import function_environment

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@dataclass(frozen=True)
class TestEnvironment:
    """Where everything of this test session lives."""

    project: str
    firestore_host: str
    pubsub_host: str
    amapi_port: int
    enterprise_id: str
    topic: str
    rollout_topic: str
    state_dir: Path
    private_key: Path
    public_key: Path

    @property
    def amapi_url(self) -> str:
        """The AMAPI emulator's base URL."""
        return f"http://127.0.0.1:{self.amapi_port}"


def _make_environment() -> TestEnvironment:
    state_dir = Path(tempfile.mkdtemp(prefix="amapi-cosu-tests-"))
    private_key, public_key = local_auth.ensure_keys(state_dir / "auth")
    project = f"amapi-cosu-test-{uuid.uuid4().hex[:8]}"
    return TestEnvironment(
        project=project,
        firestore_host=f"127.0.0.1:{emulators.free_port()}",
        pubsub_host=f"127.0.0.1:{emulators.free_port()}",
        amapi_port=emulators.free_port(),
        enterprise_id="LC00tests",
        topic=f"projects/{project}/topics/amapi-events",
        rollout_topic=f"projects/{project}/topics/amapi-cosu-rollouts",
        state_dir=state_dir,
        private_key=private_key,
        public_key=public_key,
    )


ENV = _make_environment()
os.environ.update(function_environment(
    project=ENV.project, firestore_host=ENV.firestore_host, pubsub_host=ENV.pubsub_host,
    amapi_url=ENV.amapi_url, enterprise_id=ENV.enterprise_id, topic=ENV.topic,
    public_key_file=ENV.public_key, rollout_topic=ENV.rollout_topic))
os.environ["AMAPI_RETRY_BUDGET_SECONDS"] = "3"
os.environ["AMAPI_RETRY_BASE_SECONDS"] = "0.01"
os.environ["AMAPI_RETRY_MAX_SECONDS"] = "0.2"
os.environ["LOG_LEVEL"] = "DEBUG"
# The budget is on, as in production, but wide enough that only the tests that narrow it (and
# the emulator's quota) ever wait for it.
os.environ["AMAPI_BUDGET_CALLS"] = "100000"


@pytest.fixture(scope="session")
def test_env() -> TestEnvironment:
    """Addresses and keys of this session."""
    return ENV


@pytest.fixture(scope="session")
def gcp_emulators() -> Iterator[TestEnvironment]:
    """Google's Firestore and Pub/Sub emulators, running for the whole session."""
    log_dir = ENV.state_dir / "logs"
    fs_host, fs_port = ENV.firestore_host.split(":")
    ps_host, ps_port = ENV.pubsub_host.split(":")
    firestore = emulators.firestore_emulator(fs_host, int(fs_port), log_dir)
    pubsub = emulators.pubsub_emulator(ps_host, int(ps_port), log_dir)
    firestore.start()
    pubsub.start()
    try:
        emulators.wait_for_http(f"http://{ENV.firestore_host}/", 90, firestore.process)
        emulators.wait_for_http(f"http://{ENV.pubsub_host}/", 90, pubsub.process)
        emulators.ensure_topic(ENV.pubsub_host, ENV.topic)
        emulators.ensure_topic(ENV.pubsub_host, ENV.rollout_topic)
        yield ENV
    finally:
        pubsub.stop()
        firestore.stop()


@pytest.fixture
def firestore(gcp_emulators: TestEnvironment) -> Any:
    """The Firestore client of the code under test, on an emptied database."""
    from shared.access.roles import forget_space_tree
    from shared.enterprise import forget_cached
    from shared.store import access_control
    from shared.store.client import db

    emulators.clear_firestore(ENV.firestore_host, ENV.project)
    forget_cached()
    forget_space_tree()
    access_control.put_binding({"principal": "admin@example.com", "role": "ADMIN",
                                "space": "global"})
    return db()


@pytest.fixture(scope="session")
def amapi_server(gcp_emulators: TestEnvironment) -> Iterator[Any]:
    """The AMAPI emulator, publishing to the Pub/Sub emulator like the real service."""
    from devstack.amapi_emulator.pubsub import PubSubEmulatorPublisher
    from devstack.amapi_emulator.server import EmulatorServer

    server = EmulatorServer(port=ENV.amapi_port, project=ENV.project,
                            enterprise_id=ENV.enterprise_id, topic=ENV.topic,
                            publisher=PubSubEmulatorPublisher(ENV.pubsub_host),
                            command_delay=0.05, apply_delay=0.05)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def amapi_emulator(amapi_server: Any) -> Any:
    """The AMAPI emulator in its initial state, faults cleared."""
    amapi_server.reset()
    return amapi_server


def _app(target: str, source: str, signature: str = "http") -> Any:
    from functions_framework import create_app

    return create_app(target, str(ROOT / source), signature)


@pytest.fixture(scope="session")
def function_apps(gcp_emulators: TestEnvironment) -> dict[str, Any]:
    """Each deployed entry point as functions-framework serves it."""
    from devstack.gateway import FUNCTIONS

    return {target: _app(target, source, signature)
            for target, source, signature in FUNCTIONS.values()}


@pytest.fixture
def tuned(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Run the test with these settings (environment variables), restored afterwards."""
    from shared.config import settings

    def apply(**values: Any) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, str(value))
        settings.cache_clear()

    yield apply
    monkeypatch.undo()
    settings.cache_clear()


def token_for(email: str, lifetime_seconds: int = 3600) -> str:
    """A valid local bearer token."""
    return local_auth.issue_token(ENV.private_key, email, lifetime_seconds)


@pytest.fixture(scope="session")
def admin_headers() -> dict[str, str]:
    """Authorization of the session's administrator."""
    return {"Authorization": f"Bearer {token_for('admin@example.com')}"}


def fixture_json(name: str) -> Any:
    """A recorded AMAPI payload from tests/fixtures/."""
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture(scope="session")
def live_gateway(gcp_emulators: TestEnvironment) -> Iterator[str]:
    """Every function behind one live port, as `make run` serves them (no push subscription)."""
    import threading

    from werkzeug.serving import make_server

    from devstack.gateway import build_gateway

    server = make_server("127.0.0.1", 0, build_gateway(), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
