"""Staged rollouts (pure): which devices get a staged change at each stage, and whether the
devices of a stage report it healthy.

A staged change is stored beside the resource it changes (`pendingChange`) and compiled only
into the policies of its rollout's variant (`PolicyChoice.variant`). At stage `n`, a device
affected by the change (its policy would differ) gets the variant when a `deviceIds` stage up
to `n` names it, or when it falls in the share of the latest `percent` stage: within each group
of devices with the same inputs, the devices ranked first by a stable hash of their id, so that
canaries are spread over the affected groups and a larger share includes a smaller one. A device
once staged stays staged until the rollout is promoted or rolled back.

The gate of a stage counts what the devices on the change (those of this stage and of the
earlier ones) reported since the rollout's first stage started, on the policy and the version
they were given: a report from before the change never counts as applied, since no device
reported that policy at that version before the rollout gave it.
"""

from __future__ import annotations

import datetime
import hashlib
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

from shared.clock import parse_rfc3339
from shared.policy.compiler import policy_fingerprint
from shared.policy.effective_policy import PolicyChoice, SpaceInputs
from shared.policy.push_plan import choices_of, compile_choice, stored_choice

MAX_WORST = 20  # devices named in a failed gate's `failures`


@dataclass(frozen=True)
class Gate:
    """What a stage's devices must report, `soak_seconds` after the stage was pushed."""

    soak_seconds: int = 1800
    min_applied_percent: float = 95.0
    max_non_compliant_percent: float = 2.0
    max_app_error_devices: int = 0

    @classmethod
    def of(cls, body: Mapping[str, Any] | None) -> Gate:
        """The gate of a stored or requested rollout plan (defaults where it is silent)."""
        body = body or {}
        default = cls()
        return cls(int(body.get("soakSeconds", default.soak_seconds)),
                   float(body.get("minAppliedPercent", default.min_applied_percent)),
                   float(body.get("maxNonCompliantPercent", default.max_non_compliant_percent)),
                   int(body.get("maxAppErrorDevices", default.max_app_error_devices)))

    def as_json(self) -> dict[str, Any]:
        """The gate as stored and shown."""
        return {"soakSeconds": self.soak_seconds, "minAppliedPercent": self.min_applied_percent,
                "maxNonCompliantPercent": self.max_non_compliant_percent,
                "maxAppErrorDevices": self.max_app_error_devices}


def canary_rank(device_id: str) -> int:
    """A device's place in the canary order: stable across processes and rollouts."""
    return int.from_bytes(hashlib.sha256(device_id.encode()).digest()[:8], "big")


def _device_id(device: Mapping[str, Any]) -> str:
    return str(device.get("id") or str(device["name"]).rsplit("/", 1)[-1])


def staged_choices(managed: Sequence[dict[str, Any]], inputs: SpaceInputs,
                   stages: Sequence[Mapping[str, Any]], upto: int,
                   groups: Mapping[str, Mapping[str, Any]]) -> dict[str, PolicyChoice]:
    """Each managed device's policy choice at stage `upto` (0-based) of the rollout staging
    `inputs.staged`: the variant for the affected devices the stages up to it reach, the
    stored inputs for every other device."""
    staged, rollout = inputs.staged, inputs.staged_by
    assert staged is not None and rollout is not None
    before = choices_of(managed, inputs)
    after = choices_of(managed, staged)
    differs: dict[tuple[str | None, str | None], bool] = {}

    def affected(device: str) -> bool:
        old, new = before[device], after[device]
        pair = (old.key, new.key)
        if pair not in differs:
            # Other inputs that compile to the same policy leave the device as it is.
            differs[pair] = (old.key is None) != (new.key is None) or (
                old.key is not None and policy_fingerprint(compile_choice(old, inputs))
                != policy_fingerprint(compile_choice(new, staged)))
        return differs[pair]

    named: set[str] = set()
    share = 0.0
    for stage in stages[:upto + 1]:
        named |= set(stage.get("deviceIds") or [])
        share = max(share, float(stage.get("percent") or 0))
    chosen: set[str] = set()
    buckets: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    for device in managed:
        name = device["name"]
        if not affected(name):
            continue
        group = groups.get(device.get("effectivePolicy") or "") or {}
        if (stored_choice(group).variant == rollout or _device_id(device) in named
                or name in named):
            chosen.add(name)
        buckets[before[name].key].append(device)
    for bucket in buckets.values():
        ranked = sorted(bucket, key=lambda d: (canary_rank(_device_id(d)), d["name"]))
        chosen.update(d["name"] for d in ranked[:_share_of(share, len(ranked))])
    return {name: (replace(after[name], variant=rollout) if name in chosen else choice)
            for name, choice in before.items()}


def _share_of(percent: float, count: int) -> int:
    """How many of `count` devices `percent` stages: rounded up, computed exactly (2.2 % of
    1,500 is 33, not 34)."""
    return math.ceil(Fraction(str(percent)) * count / 100)


def is_variant_group(record: Mapping[str, Any], rollout_id: str) -> bool:
    """True for a group that compiles from the staged change of `rollout_id`."""
    return stored_choice(record).variant == rollout_id


@dataclass
class StageHealth:
    """What the devices of a stage reported since it started."""

    devices: int = 0
    applied: int = 0
    non_compliant: int = 0
    app_errors: int = 0
    worst: list[dict[str, str]] = field(default_factory=list)

    def figures(self) -> dict[str, Any]:
        """The stage's figures as the rollout shows them (a stage no device is on has nothing
        left to apply and nothing wrong)."""
        return {"devices": self.devices,
                "appliedPercent": _percent(self.applied, self.devices, empty=100.0),
                "nonCompliantPercent": _percent(self.non_compliant, self.devices, empty=0.0),
                "appErrorDevices": self.app_errors}

    def failed_checks(self, gate: Gate) -> list[str]:
        """Why the stage fails `gate` (empty: it passes)."""
        figures = self.figures()
        reasons: list[str] = []
        if not self.devices:
            return reasons  # a stage no device is on has nothing to report
        # Compared unrounded: 94.96 % applied does not pass a 95 % minimum.
        if 100 * self.applied < gate.min_applied_percent * self.devices:
            reasons.append(f"{figures['appliedPercent']} % of {self.devices} devices report "
                           f"the new policy applied (at least {gate.min_applied_percent} % "
                           "needed)")
        if 100 * self.non_compliant > gate.max_non_compliant_percent * self.devices:
            reasons.append(f"{figures['nonCompliantPercent']} % of the devices report "
                           f"non-compliance (at most {gate.max_non_compliant_percent} % "
                           "allowed)")
        if self.app_errors > gate.max_app_error_devices:
            reasons.append(f"{self.app_errors} devices report an ERROR app state from the "
                           f"pinned app (at most {gate.max_app_error_devices} allowed)")
        return reasons


def _percent(part: int, whole: int, empty: float) -> float:
    return round(100.0 * part / whole, 1) if whole else empty


def _time(value: Any) -> datetime.datetime | None:
    if isinstance(value, datetime.datetime):
        return value
    try:
        return parse_rfc3339(str(value)) if value else None
    except ValueError:
        return None


def _version(value: Any) -> int:
    try:
        return int(str(value))
    except ValueError:
        return -1


def stage_health(members: Iterable[tuple[dict[str, Any], Mapping[str, Any]]],
                 since: datetime.datetime, app_states: Iterable[Mapping[str, Any]]
                 ) -> StageHealth:
    """The health of a stage from its devices' inventory records, each with the record of the
    group it is on, and the keyed app states of the pinned apps: only reports made since the
    stage started, on the policy and version the device was given, count."""
    health = StageHealth()
    problems: dict[str, tuple[int, str]] = {}  # device id -> (how bad, why)
    on_stage: set[str] = set()
    for device, group in members:
        device_id = _device_id(device)
        on_stage.add(device_id)
        health.devices += 1
        compliance = device.get("compliance") or {}
        reported = _time(device.get("lastStatusReportTime"))
        fresh = reported is not None and reported >= since
        applied = (fresh and str(compliance.get("appliedPolicyName") or "").rsplit("/", 1)[-1]
                   == str(group.get("name", "")).rsplit("/", 1)[-1]
                   and _version(compliance.get("appliedPolicyVersion"))
                   >= _version(group.get("version")))
        if not applied:
            problems[device_id] = (1, "has not reported the new policy applied")
            continue
        health.applied += 1
        details = compliance.get("nonCompliance") or []
        if details or compliance.get("compliant") is False:
            health.non_compliant += 1
            first = details[0] if details else {}
            what = " ".join(str(first[k]) for k in ("settingName", "nonComplianceReason")
                            if first.get(k))
            problems[device_id] = (2, f"non-compliant: {what}" if what else "non-compliant")
    erring: dict[str, str] = {}
    for state in app_states:
        updated = _time(state.get("lastUpdateTime"))
        device_id = str(state.get("deviceId"))
        if (state.get("severity") == "ERROR" and device_id in on_stage
                and updated is not None and updated >= since):
            erring.setdefault(device_id, f"{state.get('packageName')} reports ERROR "
                                         f"{state.get('key')}: {state.get('message', '')}")
    health.app_errors = len(erring)
    for device_id, why in erring.items():
        problems[device_id] = (3, why)
    worst = sorted(problems.items(), key=lambda item: (-item[1][0], item[0]))[:MAX_WORST]
    health.worst = [{"deviceId": device_id, "reason": why} for device_id, (_, why) in worst]
    return health
