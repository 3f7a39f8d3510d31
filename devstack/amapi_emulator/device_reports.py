"""What a simulated device sends: its enrollment and later status reports."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from devstack.amapi_emulator import errors
from devstack.amapi_emulator.simulation import Outbox, Simulation, enterprise_of
from devstack.amapi_emulator.state import EnrollmentTokenRecord, new_device_id
from devstack.amapi_emulator.validation import validate

DEFAULT_API_LEVEL = 34
MAX_BATCH = 1000
DEFAULT_MEMORY = {"totalRam": "4000000000", "totalInternalStorage": "64000000000"}


def deep_merge(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Merge `patch` into `target`: objects recursively, lists replace, null removes a field."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            deep_merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)
    return target


def _find_token(sim: Simulation, token: str) -> EnrollmentTokenRecord:
    records = sim.state.tokens
    record = records.get(token) or next(
        (r for r in records.values() if r.resource["value"] == token), None)
    if record is None:
        raise errors.bad_request("Unknown enrollment token (never created, or deleted).")
    if record.expires <= sim.clock.now():
        raise errors.bad_request(
            f"Enrollment token expired at {record.resource['expirationTimestamp']}.")
    if record.used and record.resource.get("oneTimeOnly"):
        raise errors.bad_request("This one-time enrollment token was already used.")
    return record


def _enrollment_input(body: Any) -> tuple[str, dict[str, Any], str | None, dict[str, Any]]:
    if not isinstance(body, dict):
        raise errors.bad_request("Expected a JSON object {enrollmentToken, hardwareInfo, ...}.")
    token = body.get("enrollmentToken")
    if not isinstance(token, str) or not token:
        raise errors.bad_request("enrollmentToken (the token's value or name) is required.")
    hardware = body.get("hardwareInfo")
    if not isinstance(hardware, dict) or not isinstance(hardware.get("serialNumber"), str) \
            or not hardware["serialNumber"]:
        raise errors.bad_request("hardwareInfo.serialNumber is required.")
    hardware = dict(hardware)
    imei = hardware.pop("imei", None)
    if imei is not None and not isinstance(imei, str):
        raise errors.bad_request("hardwareInfo.imei must be a string.")
    if "name" in body:
        raise errors.bad_request("name is chosen by the emulator; do not send it.")
    # Every other field is an initial Device field (apiLevel, softwareInfo, ...).
    extra = {key: value for key, value in body.items()
             if key not in ("enrollmentToken", "hardwareInfo")}
    return token, hardware, imei, extra


def enroll(sim: Simulation, outbox: Outbox, body: Any) -> dict[str, Any]:
    """Enroll a new device with a token (value or name); call with the lock held."""
    token, hardware, imei, extra = _enrollment_input(body)
    record = _find_token(sim, token)
    device = _new_device(sim, record, hardware, imei, extra,
                         sim.state.device_names_by_serial.get(hardware["serialNumber"], []))
    _add_device(sim, outbox, record, device)
    return copy.deepcopy(device)


def enroll_batch(sim: Simulation, outbox: Outbox, body: Any) -> list[dict[str, Any]]:
    """Enroll up to MAX_BATCH devices with one token, all or none; call with the lock held."""
    if not isinstance(body, dict) or set(body) - {"enrollmentToken", "devices"}:
        raise errors.bad_request("Expected a JSON object {enrollmentToken, devices: [...]}.")
    token = body.get("enrollmentToken")
    if not isinstance(token, str) or not token:
        raise errors.bad_request("enrollmentToken (the token's value or name) is required.")
    entries = body.get("devices")
    if not isinstance(entries, list) or not 1 <= len(entries) <= MAX_BATCH:
        raise errors.bad_request(f"devices must be a list of 1 to {MAX_BATCH} devices.")
    inputs = []
    for index, entry in enumerate(entries):
        with _naming_the_device(index):
            if isinstance(entry, dict) and "enrollmentToken" in entry:
                raise errors.bad_request(
                    "enrollmentToken is given once, for the whole batch.")
            inputs.append(_enrollment_input(
                {**entry, "enrollmentToken": token}
                if isinstance(entry, dict) else entry))
    record = _find_token(sim, token)
    if record.resource.get("oneTimeOnly") and len(inputs) > 1:
        raise errors.bad_request("A one-time enrollment token enrolls one device only.")
    # Build and validate every device before adding any, so that a bad one adds none; a serial
    # repeated in the batch lists its earlier devices as enrolling one by one would.
    earlier: dict[str, list[str]] = {}
    devices = []
    for index, (_, hardware, imei, extra) in enumerate(inputs):
        serial = hardware["serialNumber"]
        previous = earlier.setdefault(
            serial, list(sim.state.device_names_by_serial.get(serial, [])))
        with _naming_the_device(index):
            device = _new_device(sim, record, hardware, imei, extra, previous)
        previous.append(device["name"])
        devices.append(device)
    for device in devices:
        _add_device(sim, outbox, record, device)
    return [copy.deepcopy(device) for device in devices]


@contextmanager
def _naming_the_device(index: int) -> Iterator[None]:
    try:
        yield
    except errors.ApiError as exc:
        raise errors.ApiError(exc.code, f"devices[{index}]: {exc.message}", exc.status,
                              exc.details) from exc


def _new_device(sim: Simulation, record: EnrollmentTokenRecord, hardware: dict[str, Any],
                imei: str | None, extra: dict[str, Any],
                previous: list[str]) -> dict[str, Any]:
    """The validated Device a token enrolls (not yet added)."""
    resource = record.resource
    enterprise = enterprise_of(resource["name"])
    sim.enterprise(enterprise)
    name = f"{enterprise}/devices/{new_device_id()}"
    while name in sim.state.devices:
        name = f"{enterprise}/devices/{new_device_id()}"
    now = sim.clock.timestamp()
    policy_name = resource.get("policyName") or f"{enterprise}/policies/default"
    device: dict[str, Any] = {
        "name": name,
        "managementMode": "DEVICE_OWNER",
        "ownership": "COMPANY_OWNED",
        "state": "ACTIVE",
        "appliedState": "ACTIVE",
        "policyCompliant": True,
        "enrollmentTime": now,
        "lastPolicySyncTime": now,
        "lastStatusReportTime": now,
        "apiLevel": DEFAULT_API_LEVEL,
        "hardwareInfo": hardware,
        "memoryInfo": dict(DEFAULT_MEMORY),
        "policyName": policy_name,
        "enrollmentTokenName": resource["name"],
    }
    if resource.get("additionalData"):
        device["enrollmentTokenData"] = resource["additionalData"]
    policy = sim.state.policies.get(policy_name)
    if policy is not None:
        device["appliedPolicyName"] = policy_name
        device["appliedPolicyVersion"] = policy["version"]
    if previous:
        device["previousDeviceNames"] = list(previous)
    if imei:
        device["networkInfo"] = {"imei": imei}
    deep_merge(device, extra)
    problems = validate("Device", device)
    if problems:
        raise errors.invalid_argument(problems)
    return device


def _add_device(sim: Simulation, outbox: Outbox, record: EnrollmentTokenRecord,
                device: dict[str, Any]) -> None:
    name = device["name"]
    sim.state.devices[name] = device
    sim.state.device_names_by_serial.setdefault(
        device["hardwareInfo"]["serialNumber"], []).append(name)
    record.used = True
    sim.notify(outbox, name, "ENROLLMENT", copy.deepcopy(device))


def report(sim: Simulation, outbox: Outbox, device_name: str, body: Any) -> dict[str, Any]:
    """Merge a partial Device into the device and publish it as a STATUS_REPORT."""
    if not isinstance(body, dict):
        raise errors.bad_request("Expected a JSON object of Device fields.")
    if body.get("name", device_name) != device_name:
        raise errors.bad_request("name cannot be changed by a status report.")
    device = sim.device(device_name)
    merged = deep_merge(copy.deepcopy(device), body)
    merged["lastStatusReportTime"] = sim.clock.timestamp()
    problems = validate("Device", merged)
    if problems:
        raise errors.invalid_argument(problems)
    sim.state.devices[device_name] = merged
    sim.notify(outbox, device_name, "STATUS_REPORT", copy.deepcopy(merged))
    return copy.deepcopy(merged)
