"""The emulated world: resources plus the simulated devices' side of every exchange.

Devices enroll, apply policies, acknowledge commands and report deletion here; the AMAPI
methods and the control API call into this module while holding the state lock.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from devstack.amapi_emulator import behaviors, commands, errors
from devstack.amapi_emulator.clock import EmulatorClock
from devstack.amapi_emulator.notifications import Notification, Notifier, notification_for
from devstack.amapi_emulator.scheduler import Scheduler
from devstack.amapi_emulator.state import EmulatorConfig, EmulatorState

Outbox = list[Notification]


def enterprise_of(resource_name: str) -> str:
    """`enterprises/E` from any resource name below it."""
    return "/".join(resource_name.split("/")[:2])


class Simulation:
    """Resources, clock, delayed device behaviour and notifications, behind one lock."""

    def __init__(self, config: EmulatorConfig, notifier: Notifier) -> None:
        self.config = config
        self.notifier = notifier
        self.clock = EmulatorClock()
        self.scheduler = Scheduler()
        self.state = EmulatorState()
        self.state.reset(config)
        self.command_delay = config.command_delay
        self.apply_delay = config.apply_delay
        # Bumped on every change (and every transaction): what an autosave watches.
        self.revision = 0

    def changed(self) -> None:
        """Note that the world changed outside a transaction (clock, delays)."""
        self.revision += 1

    def reset(self) -> None:
        """Back to the initial state: one enterprise, nothing pending, clock and delays reset."""
        self.scheduler.cancel_all()
        self.state.reset(self.config)
        self.clock.set_offset(0)
        self.command_delay = self.config.command_delay
        self.apply_delay = self.config.apply_delay
        self.changed()

    def close(self) -> None:
        """Drop every pending delayed behaviour and stop the threads that ran it."""
        self.scheduler.close()

    @contextmanager
    def transaction(self) -> Iterator[Outbox]:
        """Hold the lock; publish what was put in the outbox once the lock is released."""
        outbox: Outbox = []
        with self.state.lock:
            generation = self.state.generation
            try:
                yield outbox
            finally:
                self.revision += 1
        self.notifier.send(outbox, lambda: self.state.generation == generation)

    def notify(self, outbox: Outbox, resource_name: str, notification_type: str,
               payload: dict[str, Any]) -> None:
        """Queue a notification to the enterprise owning `resource_name`, if it wants it."""
        enterprise = self.state.enterprises.get(enterprise_of(resource_name))
        notification = notification_for(enterprise, notification_type, payload)
        if notification:
            outbox.append(notification)

    def _later(self, delay: float, action: Callable[..., None], *args: Any) -> None:
        """Run `action(outbox, *args)` in a transaction after `delay`, unless reset meanwhile."""
        generation = self.state.generation

        def run() -> None:
            with self.transaction() as outbox:
                if self.state.generation == generation:
                    action(outbox, *args)

        self.scheduler.call_later(delay, run)

    # Lookups: call with the lock held.

    def enterprise(self, name: str) -> dict[str, Any]:
        """The enterprise called `name`, or 404."""
        found = self.state.enterprises.get(name)
        if found is None:
            raise errors.not_found()
        return found

    def device(self, name: str) -> dict[str, Any]:
        """The (non-deleted) device called `name`, or 404."""
        self.enterprise(enterprise_of(name))
        found = self.state.devices.get(name)
        if found is None:
            raise errors.not_found()
        return found

    # Policy application.

    def schedule_apply(self, device_name: str) -> None:
        """Have the device sync its policy and state after `apply_delay` (coalesced)."""
        if device_name in self.state.pending_apply:
            return
        self.state.pending_apply.add(device_name)
        self._later(self.apply_delay, self._apply, device_name)

    def schedule_apply_policy(self, policy_name: str) -> None:
        """Have every device on `policy_name` apply its new version."""
        for name, device in self.state.devices.items():
            if device.get("policyName") == policy_name:
                self.schedule_apply(name)

    def _apply(self, outbox: Outbox, device_name: str) -> None:
        self.state.pending_apply.discard(device_name)
        device = self.state.devices.get(device_name)
        if device is None:
            return
        now = self.clock.timestamp()
        policy_name = device.get("policyName", "")
        effects = behaviors.effects_for(self.state.behaviors, device_name, policy_name)
        # A device that cannot apply the policy still reports, with what it applied before.
        if not effects.never_apply:
            policy = self.state.policies.get(policy_name)
            if policy is not None:
                device["appliedPolicyName"] = policy["name"]
                device["appliedPolicyVersion"] = policy["version"]
            injected = behaviors.apply_effects(
                device, effects, self.state.injected.get(device_name), now)
            if injected is None:
                self.state.injected.pop(device_name, None)
            else:
                self.state.injected[device_name] = injected
        device["appliedState"] = device.get("state", "ACTIVE")
        device["lastPolicySyncTime"] = now
        device["lastStatusReportTime"] = now
        self.notify(outbox, device_name, "STATUS_REPORT", copy.deepcopy(device))

    # Deletion.

    def delete_device(self, device_name: str) -> None:
        """Remove the device now; its final DELETED status report follows after a delay."""
        device = self.state.devices.pop(device_name)
        self.state.pending_apply.discard(device_name)
        self.state.injected.pop(device_name, None)
        serial = (device.get("hardwareInfo") or {}).get("serialNumber")
        self.schedule_deletion_report(device_name, serial)

    def schedule_deletion_report(self, device_name: str, serial: str | None) -> None:
        """Have the wiped device send its final DELETED report after `apply_delay`."""
        self.state.pending_deletion_reports[device_name] = serial
        self._later(self.apply_delay, self._report_deleted, device_name, serial)

    def _report_deleted(self, outbox: Outbox, device_name: str, serial: str | None) -> None:
        if device_name not in self.state.pending_deletion_reports:
            return  # already reported
        del self.state.pending_deletion_reports[device_name]
        report: dict[str, Any] = {"name": device_name, "state": "DELETED",
                                  "appliedState": "DELETED"}
        if serial:
            report["hardwareInfo"] = {"serialNumber": serial}
        report["lastStatusReportTime"] = self.clock.timestamp()
        self.notify(outbox, device_name, "STATUS_REPORT", report)

    # Commands.

    def schedule_completion(self, operation_name: str) -> None:
        """Have the device execute the command after `command_delay`."""
        self._later(self.command_delay, self._complete, operation_name)

    def _complete(self, outbox: Outbox, operation_name: str) -> None:
        record = self.state.operations.get(operation_name)
        if record is None or record.resource.get("done"):
            return
        device = self.state.devices.get(record.device_name)
        if device is None:
            return  # a deleted device never acknowledges; the command just expires
        operation = record.resource
        additions, error = commands.device_outcome(
            operation["metadata"], device, record.new_password)
        operation["metadata"].update(additions)
        operation["done"] = True
        if error:
            operation["error"] = error
        self.notify(outbox, operation_name, "COMMAND", copy.deepcopy(operation))
        if operation["metadata"]["type"] == "WIPE" and not error:
            self.delete_device(record.device_name)

    def cancel_operation(self, outbox: Outbox, operation_name: str) -> None:
        """Cancel a pending command (done, with error CANCELLED); a finished one is left as is."""
        record = self.state.operations.get(operation_name)
        if record is None:
            raise errors.not_found()
        operation = record.resource
        if operation.get("done"):
            return
        operation["done"] = True
        operation["error"] = {"code": 1, "message": "Cancelled"}
        self.notify(outbox, operation_name, "COMMAND", copy.deepcopy(operation))
