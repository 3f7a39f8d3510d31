"""`FakeAmapi`: an in-process `AmapiDoor` for unit tests of code that executes AMAPI calls.

It keeps policies, devices and operations in dicts, records every call in order, and raises a
chosen failure on the n-th call of a verb. It knows nothing of AMAPI's validation or timing:
that is what the AMAPI emulator (devstack/amapi_emulator) and the integration tests are for.
It lives in `shared/` next to the Protocol so that mypy checks it conforms, like the client.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field
from typing import Any

from shared.amapi.door import AmapiDoor
from shared.amapi.errors import AmapiError, AmapiFailedPrecondition, AmapiNotFound


@dataclass(frozen=True)
class Call:
    """One recorded call: the verb (`enterprises.policies.patch`, ...) and its resource name."""

    method: str
    name: str
    body: dict[str, Any] | None = None


@dataclass
class _Fault:
    method: str
    nth: int
    error: AmapiError
    seen: int = 0


@dataclass
class FakeAmapi:
    """Policies, devices and operations by name; `calls` in the order they were made."""

    policies: dict[str, dict[str, Any]] = field(default_factory=dict)
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)
    operations: dict[str, dict[str, Any]] = field(default_factory=dict)
    enterprises: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    _faults: list[_Fault] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def fail(self, method: str, error: AmapiError, nth: int = 1) -> None:
        """Raise `error` on the `nth` call of `method` from now on (that call does nothing)."""
        self._faults.append(_Fault(method, nth, error))

    def count(self, method: str) -> int:
        """How many calls of `method` were made (failed ones included)."""
        return sum(1 for c in self.calls if c.method == method)

    def _call(self, method: str, name: str, body: dict[str, Any] | None = None) -> None:
        self.calls.append(Call(method, name, copy.deepcopy(body)))
        for fault in self._faults:
            if fault.method == method:
                fault.seen += 1
                if fault.seen == fault.nth:
                    raise fault.error

    @staticmethod
    def _found(table: dict[str, dict[str, Any]], method: str, name: str) -> dict[str, Any]:
        if name not in table:
            raise AmapiNotFound(method, f"{name} not found")
        return copy.deepcopy(table[name])

    # Enterprises

    def get_enterprise(self, name: str) -> dict[str, Any]:
        """One enterprise."""
        self._call("enterprises.get", name)
        return self._found(self.enterprises, "enterprises.get", name)

    def patch_enterprise(self, name: str, body: dict[str, Any], update_mask: str) -> dict[str, Any]:
        """Change the listed fields of an enterprise."""
        self._call("enterprises.patch", name, body)
        current = self.enterprises.setdefault(name, {"name": name})
        current.update({k: body[k] for k in update_mask.split(",") if k in body})
        return copy.deepcopy(current)

    def create_signup_url(self, project_id: str, callback_url: str,
                          admin_email: str | None = None) -> dict[str, Any]:
        """A signup URL naming a new signup."""
        name = f"signupUrls/C{next(self._ids)}"
        self._call("signupUrls.create", name)
        return {"name": name, "url": f"https://play.google.com/work/adminsignup?token={name}"}

    def create_enterprise(self, project_id: str, signup_url_name: str, enterprise_token: str,
                          body: dict[str, Any]) -> dict[str, Any]:
        """A new enterprise with `body`'s settings."""
        name = f"enterprises/LC{next(self._ids):08d}"
        self._call("enterprises.create", name, body)
        self.enterprises[name] = {**copy.deepcopy(body), "name": name}
        return copy.deepcopy(self.enterprises[name])

    # Policies

    def get_policy(self, name: str) -> dict[str, Any]:
        """One policy."""
        self._call("enterprises.policies.get", name)
        return self._found(self.policies, "enterprises.policies.get", name)

    def patch_policy(self, name: str, policy: dict[str, Any],
                     update_mask: str | None = None) -> dict[str, Any]:
        """Upsert a policy; its version goes up by one each time, as in AMAPI."""
        self._call("enterprises.policies.patch", name, policy)
        version = int(self.policies.get(name, {}).get("version", 0)) + 1
        if update_mask:
            merged = dict(self.policies.get(name, {}))
            merged.update({k: policy[k] for k in update_mask.split(",") if k in policy})
        else:
            merged = copy.deepcopy(policy)
        self.policies[name] = {**merged, "name": name, "version": str(version)}
        return copy.deepcopy(self.policies[name])

    def delete_policy(self, name: str) -> None:
        """Delete a policy; refused while a device uses it, as AMAPI does."""
        self._call("enterprises.policies.delete", name)
        self._found(self.policies, "enterprises.policies.delete", name)
        if any(d.get("policyName") == name for d in self.devices.values()):
            raise AmapiFailedPrecondition("enterprises.policies.delete",
                                          f"{name} is used by a device")
        del self.policies[name]

    # Enrollment tokens

    def create_enrollment_token(self, enterprise: str, token: dict[str, Any]) -> dict[str, Any]:
        """A token named and valued by a counter."""
        number = next(self._ids)
        name = f"{enterprise}/enrollmentTokens/t{number}"
        self._call("enterprises.enrollmentTokens.create", name, token)
        return {**copy.deepcopy(token), "name": name, "value": f"TOKEN{number}"}

    def delete_enrollment_token(self, name: str) -> None:
        """Revoke a token (always succeeds)."""
        self._call("enterprises.enrollmentTokens.delete", name)

    # Devices

    def get_device(self, name: str) -> dict[str, Any]:
        """One device."""
        self._call("enterprises.devices.get", name)
        return self._found(self.devices, "enterprises.devices.get", name)

    def list_devices(self, enterprise: str, page_size: int = 100,
                     page_token: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the enterprise's devices, by name."""
        self._call("enterprises.devices.list", enterprise)
        return _page(sorted(n for n in self.devices if n.startswith(enterprise + "/")),
                     self.devices, page_size, page_token)

    def patch_device(self, name: str, device: dict[str, Any], update_mask: str) -> dict[str, Any]:
        """Change the masked fields of a device."""
        self._call("enterprises.devices.patch", name, device)
        current = self.devices.get(name)
        if current is None:
            raise AmapiNotFound("enterprises.devices.patch", f"{name} not found")
        fields = update_mask.split(",")
        current.update({k: copy.deepcopy(device[k]) for k in fields if k in device})
        return copy.deepcopy(current)

    def delete_device(self, name: str, wipe_data_flags: list[str] | None = None,
                      wipe_reason_message: str | None = None) -> None:
        """Delete a device; one already gone counts as deleted."""
        self._call("enterprises.devices.delete", name)
        self.devices.pop(name, None)

    def issue_command(self, device_name: str, command: dict[str, Any]) -> dict[str, Any]:
        """A pending Operation carrying the command."""
        name = f"{device_name}/operations/{next(self._ids)}"
        self._call("enterprises.devices.issueCommand", device_name, command)
        self._found(self.devices, "enterprises.devices.issueCommand", device_name)
        self.operations[name] = {"name": name, "done": False,
                                 "metadata": {"@type": "type.googleapis.com/google.android."
                                                       "devicemanagement.v1.Command",
                                              **copy.deepcopy(command)}}
        return copy.deepcopy(self.operations[name])

    def get_operation(self, name: str) -> dict[str, Any]:
        """One operation."""
        self._call("enterprises.devices.operations.get", name)
        return self._found(self.operations, "enterprises.devices.operations.get", name)

    def list_operations(self, device_name: str, page_size: int = 100,
                        page_token: str | None = None
                        ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of a device's operations, by name."""
        self._call("enterprises.devices.operations.list", device_name)
        return _page(sorted(n for n in self.operations if n.startswith(device_name + "/")),
                     self.operations, page_size, page_token)

    def cancel_operation(self, name: str) -> None:
        """Cancel an operation not yet done (a done one stays as it is)."""
        self._call("enterprises.devices.operations.cancel", name)
        operation = self.operations.get(name)
        if operation is None:
            raise AmapiNotFound("enterprises.devices.operations.cancel", f"{name} not found")
        if not operation.get("done"):
            operation.update({"done": True, "error": {"code": 1, "message": "Cancelled."}})


def _page(names: list[str], table: dict[str, dict[str, Any]], page_size: int,
          page_token: str | None) -> tuple[list[dict[str, Any]], str | None]:
    start = int(page_token or 0)
    end = start + page_size
    return ([copy.deepcopy(table[n]) for n in names[start:end]],
            str(end) if end < len(names) else None)


_CONFORMS: type[AmapiDoor] = FakeAmapi
