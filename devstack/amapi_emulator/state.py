"""The emulator's in-memory resources, guarded by one lock."""

from __future__ import annotations

import secrets
import string
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from devstack.amapi_emulator.behaviors import Behavior, Injected

INITIAL_NOTIFICATION_TYPES = ("ENROLLMENT", "STATUS_REPORT", "COMMAND", "USAGE_LOGS")
INITIAL_DISPLAY_NAME = "Local enterprise"


@dataclass(frozen=True)
class EmulatorConfig:
    """What the emulator starts with and how quickly its simulated devices react."""

    project: str = "amapi-cosu-local"
    enterprise_id: str = "LC00local"
    topic: str = "projects/amapi-cosu-local/topics/amapi-events"
    command_delay: float = 0.2
    apply_delay: float = 0.2


@dataclass
class EnrollmentTokenRecord:
    """A token as created (the full resource) and whether a one-time token was used."""

    resource: dict[str, Any]
    expires: datetime
    used: bool = False


@dataclass
class OperationRecord:
    """A command's Operation plus what the device needs to decide its outcome."""

    resource: dict[str, Any]
    device_name: str
    new_password: str | None = None


@dataclass
class SignupRecord:
    """A signup URL and, once the admin "finished" signing up, its enterprise token."""

    resource: dict[str, Any]
    project_id: str
    callback_url: str
    enterprise_token: str | None = None
    used: bool = False


@dataclass
class EmulatorState:
    """Every resource the emulator holds. Hold `lock` while reading or changing anything."""

    lock: threading.RLock = field(default_factory=threading.RLock)
    # Bumped by reset so that delayed work scheduled before it does nothing afterwards.
    generation: int = 0
    enterprises: dict[str, dict[str, Any]] = field(default_factory=dict)
    policies: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: dict[str, EnrollmentTokenRecord] = field(default_factory=dict)
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)
    operations: dict[str, OperationRecord] = field(default_factory=dict)
    signups: dict[str, SignupRecord] = field(default_factory=dict)
    device_names_by_serial: dict[str, list[str]] = field(default_factory=dict)
    pending_apply: set[str] = field(default_factory=set)
    # Wiped devices whose final DELETED report is still due: device name -> serial number.
    pending_deletion_reports: dict[str, str | None] = field(default_factory=dict)
    behaviors: list[Behavior] = field(default_factory=list)
    # What behaviours added to each device's reports (absent for a device they never touched).
    injected: dict[str, Injected] = field(default_factory=dict)
    last_operation_id: int = 0

    def reset(self, config: EmulatorConfig) -> None:
        """Back to one enterprise and nothing else."""
        with self.lock:
            self.generation += 1
            for collection in (self.enterprises, self.policies, self.tokens, self.devices,
                               self.operations, self.signups, self.device_names_by_serial,
                               self.injected, self.pending_deletion_reports):
                collection.clear()
            self.pending_apply.clear()
            self.behaviors.clear()
            name = f"enterprises/{config.enterprise_id}"
            self.enterprises[name] = {
                "name": name,
                "enterpriseDisplayName": INITIAL_DISPLAY_NAME,
                "pubsubTopic": config.topic,
                "enabledNotificationTypes": list(INITIAL_NOTIFICATION_TYPES),
            }


def random_string(length: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    """A random string drawn from `alphabet`."""
    return "".join(secrets.choice(alphabet) for _ in range(length))


def new_enterprise_id() -> str:
    """An id shaped like AMAPI's (`LC0` and seven lowercase letters or digits)."""
    return "LC0" + random_string(7, string.ascii_lowercase + string.digits)


def new_device_id() -> str:
    """Sixteen hex characters, as AMAPI device ids are."""
    return secrets.token_hex(8)


def new_token_value() -> str:
    """Twenty uppercase letters, as AMAPI enrollment token values are."""
    return random_string(20, string.ascii_uppercase)
