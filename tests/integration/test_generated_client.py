"""A Python client generated from the live documents (openapi-python-client) drives the API.

The enroll, policy and commands documents are read from a live gateway, a client package is
generated for each (offline, once for the module), imported, and a newcomer's flow goes
through nothing but the generated code: a device user, an enrollment profile, a catalog app,
a COSU configuration for every device, an emulated device enrolled, the device listed and
locked.
"""

import importlib
import json
import subprocess
import sys
import urllib.request

import pytest

from tests.conftest import ENV, token_for
from tests.integration.enroll_helpers import enroll_device
from tests.integration.notification_helpers import Relay
from tests.integration.policy_helpers import amapi_device

GENERATED = ("enroll", "policy", "commands")
# The generator maps media types it has no parser for onto raw bytes.
CONFIG = {"post_hooks": [], "content_type_overrides": {
    "image/png": "application/octet-stream", "image/svg+xml": "application/octet-stream"}}
KIOSK = "com.example.kiosk"


@pytest.fixture(scope="module")
def generated(live_gateway, tmp_path_factory):
    """One imported client package per function: `generated["commands"]` is its module."""
    root = tmp_path_factory.mktemp("generated")
    packages = {}
    for function in GENERATED:
        with urllib.request.urlopen(f"{live_gateway}/{function}/openapi.json",
                                    timeout=15) as response:
            (root / f"{function}.json").write_bytes(response.read())
        package = f"{function}_client"
        (root / f"{function}.config.json").write_text(json.dumps(
            {**CONFIG, "package_name_override": package}))
        run = subprocess.run(
            [sys.executable, "-m", "openapi_python_client", "generate",
             "--path", str(root / f"{function}.json"),
             "--config", str(root / f"{function}.config.json"),
             "--meta", "none", "--output-path", str(root / package)],
            capture_output=True, text=True, timeout=120, check=False)
        # A document the generator only half understands comes out with warnings.
        assert run.returncode == 0 and "Warning" not in run.stdout + run.stderr, (
            run.stdout + run.stderr)
        packages[function] = package
    sys.path.insert(0, str(root))
    try:
        yield {function: importlib.import_module(package)
               for function, package in packages.items()}
    finally:
        sys.path.remove(str(root))
        for name in list(sys.modules):
            if name.split(".")[0] in packages.values():
                del sys.modules[name]


def client_of(generated, live_gateway, function):
    package = generated[function]
    return package.AuthenticatedClient(base_url=f"{live_gateway}/{function}",
                                       token=token_for("admin@example.com"),
                                       raise_on_unexpected_status=True)


def load(package, path):
    return importlib.import_module(f"{package.__name__}.{path}")


def test_a_generated_client_enrolls_a_device_on_its_cosu_configuration_and_locks_it(
        generated, live_gateway, function_apps, firestore, amapi_emulator):
    enroll_pkg, policy_pkg, commands_pkg = (generated[f] for f in GENERATED)
    enroll = client_of(generated, live_gateway, "enroll")
    policy = client_of(generated, live_gateway, "policy")
    commands = client_of(generated, live_gateway, "commands")
    relay = Relay(function_apps["notifications"], ENV.pubsub_host, ENV.topic,
                  "generated-client")
    relay.deliver_all(settle=0)  # what earlier tests published is not this flow's

    models = load(enroll_pkg, "models")
    user = load(enroll_pkg, "api.users.create_user").sync(
        client=enroll, body=models.DeviceUserCreate(user_name="front-desk"),
        idempotency_key="user-front-desk")
    assert isinstance(user, models.DeviceUser) and user.user_name == "front-desk"
    profile = load(enroll_pkg, "api.enrollment_profiles.create_enrollment_profile").sync(
        client=enroll, body=models.EnrollmentProfileCreate(
            name="Lobby kiosks", user_name="front-desk", validity_days=7))
    assert isinstance(profile, models.EnrollmentProfile), profile
    qr = load(enroll_pkg, "api.enrollment_profiles.get_enrollment_profile_qr_png").sync_detailed(
        client=enroll, profile_id=profile.id)
    assert qr.status_code == 200 and qr.content.startswith(b"\x89PNG")

    models = load(policy_pkg, "models")
    app = load(policy_pkg, "api.apps.create_app").sync(
        client=policy, body=models.AppCreate(package_name=KIOSK,
                                             type_=models.AppCreateType.PUBLIC))
    assert isinstance(app, models.App) and app.package_name == KIOSK
    config = load(policy_pkg, "api.cosu_configs.create_cosu_config").sync(
        client=policy, body=models.CosuConfigCreate(
            name="Lobby", priority=10, app=models.KioskApp(package_name=KIOSK),
            distribution=models.Distribution(mode=models.DistributionMode.ALL)))
    assert isinstance(config, models.CosuConfig) and config.etag, config
    # A stale etag comes back as the declared error envelope, typed.
    stale = load(policy_pkg, "api.cosu_configs.update_cosu_config").sync(
        client=policy, config_id=config.id, if_match='"stale"',
        body=models.CosuConfigPatch(description="moved"))
    assert isinstance(stale, models.Error) and stale.error.status == "FAILED_PRECONDITION"

    status, enrolled = enroll_device(amapi_emulator, profile.token.value, serial="GEN-0001")
    assert status == 200, enrolled
    relay.deliver_all(settle=0.1)

    models = load(commands_pkg, "models")
    listed = load(commands_pkg, "api.devices.list_devices").sync(client=commands, page_size=50)
    assert isinstance(listed, models.DeviceList)
    [device] = [d for d in listed.devices if d.hardware["serialNumber"] == "GEN-0001"]
    assert device.user_name == "front-desk" and device.profile_id == profile.id
    assert "/policies/cosu-" in amapi_device(amapi_emulator, device.name)["policyName"]
    issued = load(commands_pkg, "api.commands.issue_device_command").sync(
        client=commands, device_id=device.id, idempotency_key="lock-gen-0001",
        body=models.LockCommandRequest(type_=models.LockCommandRequestType.LOCK))
    assert isinstance(issued, models.Command), issued
    assert issued.state == models.CommandState.SENT
    assert "COMMAND" in relay.deliver_all()
    settled = load(commands_pkg, "api.commands.get_device_command").sync(
        client=commands, device_id=device.id, command_id=issued.id)
    assert settled.state == models.CommandState.SUCCEEDED
    missing = load(commands_pkg, "api.devices.get_device").sync(client=commands,
                                                                device_id="no-such-device")
    assert isinstance(missing, models.Error) and missing.error.code == 404
