"""The emulator's state as JSON, so the local stack keeps its devices across restarts.

`snapshot` captures everything the simulated world needs to carry on where it stopped:
enterprises, policies (with their versions), enrollment tokens (their expiry and whether a
one-time token was used), devices, operations (with a pending command's new password, which
only the device may see), signup URLs, behaviours and what they injected, work the devices
still owed (policies to apply, commands to complete, a wiped device's last report), the
operation counter, the clock offset and the device delays. Test knobs that describe a moment
rather than the world (fault rules, the quota window, the request log) are not kept.

`restore` replaces the state with a snapshot and reschedules the owed work, so a command
pending when the emulator stopped completes after it starts again. `save` writes a snapshot
atomically (a crash leaves the previous file whole); `AutoSaver` saves shortly after each change.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from devstack.amapi_emulator.behaviors import Behavior, Injected
from devstack.amapi_emulator.simulation import Simulation
from devstack.amapi_emulator.state import EnrollmentTokenRecord, OperationRecord, SignupRecord

FORMAT = "amapi-emulator-state/1"


class SnapshotError(ValueError):
    """A state file this emulator cannot restore."""


def snapshot(sim: Simulation) -> dict[str, Any]:
    """A JSON-ready copy of the simulated world (taken under the state lock)."""
    state = sim.state
    with state.lock:
        taken = {
            "format": FORMAT,
            "clockOffsetSeconds": sim.clock.offset_seconds,
            "delays": {"commandSeconds": sim.command_delay, "applySeconds": sim.apply_delay},
            "lastOperationId": state.last_operation_id,
            "enterprises": state.enterprises,
            "policies": state.policies,
            "tokens": {name: {"resource": record.resource,
                              "expires": record.expires.isoformat(),
                              "used": record.used}
                       for name, record in state.tokens.items()},
            "devices": state.devices,
            "deviceNamesBySerial": state.device_names_by_serial,
            "operations": {name: {"resource": record.resource, "deviceName": record.device_name,
                                  "newPassword": record.new_password}
                           for name, record in state.operations.items()},
            "signups": {name: {"resource": record.resource, "projectId": record.project_id,
                               "callbackUrl": record.callback_url,
                               "enterpriseToken": record.enterprise_token,
                               "used": record.used}
                        for name, record in state.signups.items()},
            "pendingApply": sorted(state.pending_apply),
            "pendingDeletionReports": state.pending_deletion_reports,
            "behaviors": [_behavior_json(b) for b in state.behaviors],
            "injected": {name: {"nonCompliance": injected.non_compliance,
                                "appStates": [[package, key, created] for (package, key), created
                                              in sorted(injected.app_states.items())],
                                "createdReports": sorted(injected.created_reports)}
                         for name, injected in state.injected.items()},
        }
        # A deep copy through JSON, while the lock still holds the world still.
        result: dict[str, Any] = json.loads(json.dumps(taken))
    return result


def restore(sim: Simulation, data: dict[str, Any]) -> None:
    """Replace the world with `data` (from `snapshot`) and reschedule the work still owed."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise SnapshotError(f"not an emulator state of format {FORMAT} (found {found!r})")
    data = json.loads(json.dumps(data))  # the state must not share objects with the caller
    try:
        tokens = {name: EnrollmentTokenRecord(t["resource"], datetime.fromisoformat(t["expires"]),
                                              bool(t["used"]))
                  for name, t in data["tokens"].items()}
        operations = {name: OperationRecord(o["resource"], o["deviceName"], o["newPassword"])
                      for name, o in data["operations"].items()}
        signups = {name: SignupRecord(s["resource"], s["projectId"], s["callbackUrl"],
                                      s["enterpriseToken"], bool(s["used"]))
                   for name, s in data["signups"].items()}
        behaviors = [_behavior(b) for b in data["behaviors"]]
        injected = {name: Injected(bool(i["nonCompliance"]),
                                   {(p, k): created for p, k, created in i["appStates"]},
                                   set(i["createdReports"]))
                    for name, i in data["injected"].items()}
        delays = data["delays"]
        offset = float(data["clockOffsetSeconds"])
    except (KeyError, TypeError, ValueError) as exc:
        raise SnapshotError(f"damaged emulator state: {exc!r}") from exc
    sim.scheduler.cancel_all()
    state = sim.state
    with state.lock:
        state.generation += 1
        state.enterprises = data["enterprises"]
        state.policies = data["policies"]
        state.tokens = tokens
        state.devices = data["devices"]
        state.device_names_by_serial = data["deviceNamesBySerial"]
        state.operations = operations
        state.signups = signups
        state.behaviors = behaviors
        state.injected = injected
        state.last_operation_id = int(data["lastOperationId"])
        state.pending_apply = set()
        state.pending_deletion_reports = {}
        sim.clock.set_offset(offset)
        sim.command_delay = float(delays["commandSeconds"])
        sim.apply_delay = float(delays["applySeconds"])
        for device_name in data["pendingApply"]:
            sim.schedule_apply(device_name)
        for device_name, serial in data["pendingDeletionReports"].items():
            sim.schedule_deletion_report(device_name, serial)
        for name, record in operations.items():
            if not record.resource.get("done"):
                sim.schedule_completion(name)
        sim.changed()


def save(path: Path, data: dict[str, Any]) -> None:
    """Write `data` to `path` atomically: readers see the old file or the new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(data, out, separators=(",", ":"), sort_keys=True)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def load(path: Path) -> dict[str, Any] | None:
    """The snapshot saved at `path`, or None when there is none."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        data: dict[str, Any] = json.loads(text)
    except ValueError as exc:
        raise SnapshotError(f"{path} is not JSON: {exc}") from exc
    return data


class AutoSaver:
    """Saves the world to a file within `interval` seconds of each change, and on `stop`."""

    def __init__(self, sim: Simulation, path: Path, interval: float = 1.0) -> None:
        self.sim = sim
        self.path = path
        self.interval = interval
        self._stopping = threading.Event()
        self._saved_revision = -1
        self._saved_text: str | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="amapi-emulator-autosave",
                                        daemon=True)

    def start(self) -> AutoSaver:
        """Begin watching for changes; returns self."""
        self._thread.start()
        return self

    def save_now(self) -> bool:
        """Save if anything changed since the last save; whether a file was written."""
        with self._lock:
            revision = self.sim.revision
            if revision == self._saved_revision:
                return False
            data = snapshot(self.sim)
            # Reads count as changes too (they take the same lock): skip identical writes.
            text = json.dumps(data, sort_keys=True)
            written = text != self._saved_text
            if written:
                save(self.path, data)
                self._saved_text = text
            self._saved_revision = revision
            return written

    def stop(self) -> None:
        """Stop watching and save what changed last."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self.save_now()

    def _run(self) -> None:
        while not self._stopping.wait(self.interval):
            try:
                self.save_now()
            except Exception as exc:  # a full disk must not stop the emulator serving
                print(f"amapi-emulator: could not save {self.path}: {exc}", file=sys.stderr,
                      flush=True)


def _behavior_json(behavior: Behavior) -> dict[str, Any]:
    return {"policy": behavior.policy,
            "devices": sorted(behavior.devices) if behavior.devices is not None else None,
            "percent": behavior.percent,
            "nonCompliance": list(behavior.non_compliance),
            "appError": behavior.app_error,
            "neverApply": behavior.never_apply}


def _behavior(data: dict[str, Any]) -> Behavior:
    devices = data["devices"]
    return Behavior(policy=data["policy"],
                    devices=frozenset(devices) if devices is not None else None,
                    percent=data["percent"],
                    non_compliance=tuple(data["nonCompliance"]),
                    app_error=data["appError"],
                    never_apply=bool(data["neverApply"]))
