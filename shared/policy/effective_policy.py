"""Which policy a device gets: pure resolution from its attributes and the space's configurations.

A device gets the highest-priority COSU configuration distributed to it (ties: the older one),
plus every app, Wi-Fi and VPN configuration distributed to it. Devices with the same inputs
share one AMAPI policy whose name derives from those inputs' ids — not their content — so that
editing a configuration patches the same policy and moves no device.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from shared.store.versioned import Stored

POLICY_PREFIX = "cosu-"


@dataclass(frozen=True)
class SpaceInputs:
    """Everything of a space that policies are compiled from, keyed by id (apps by package)."""

    configs: dict[str, Stored] = field(default_factory=dict)
    apps: dict[str, Stored] = field(default_factory=dict)
    wifi: dict[str, Stored] = field(default_factory=dict)
    vpn: dict[str, Stored] = field(default_factory=dict)
    # A staged change of one of them, not yet promoted: the inputs as they are with it, and the
    # rollout staging it. Only groups of that rollout's variant compile from these.
    staged: SpaceInputs | None = None
    staged_by: str | None = None


@dataclass(frozen=True)
class PolicyChoice:
    """The inputs one device's policy is compiled from."""

    config_id: str | None
    app_ids: tuple[str, ...] = ()
    wifi_ids: tuple[str, ...] = ()
    vpn_id: str | None = None
    # The staged rollout whose pending change this choice compiles with (None: as stored).
    variant: str | None = None

    @property
    def input_ids(self) -> list[str]:
        """Typed input ids, the keys by which a change finds the policies it affects."""
        ids = [f"cosu:{self.config_id}"] if self.config_id else []
        ids += [f"app:{a}" for a in self.app_ids] + [f"wifi:{w}" for w in self.wifi_ids]
        return ids + ([f"vpn:{self.vpn_id}"] if self.vpn_id else [])

    @property
    def key(self) -> str | None:
        """Stable id of the shared policy; None when nothing is distributed to the device."""
        ids = self.input_ids
        if not ids:
            return None
        if self.variant:
            ids = [*ids, f"staged:{self.variant}"]
        return hashlib.sha256("|".join(ids).encode()).hexdigest()[:24]


def policy_name(enterprise: str, key: str) -> str:
    """The AMAPI policy of an effective-policy key."""
    return f"{enterprise}/policies/{POLICY_PREFIX}{key}"


def targets(distribution: dict[str, Any] | None, device: dict[str, Any]) -> bool:
    """True when `distribution` reaches `device` (ALL, or CUSTOM by id, label or user)."""
    mode = (distribution or {}).get("mode", "NONE")
    if mode == "ALL":
        return True
    if mode != "CUSTOM":
        return False
    assert distribution is not None
    ids = set(distribution.get("deviceIds") or [])
    return (device["id"] in ids or device.get("name") in ids
            or bool(set(distribution.get("labels") or []) & set(device.get("labels") or []))
            or device.get("userName") in set(distribution.get("userNames") or []))


def _oldest_first(items: Iterable[Stored]) -> list[Stored]:
    return sorted(items, key=lambda s: (str(s.data.get("createTime", "")), s.id))


def choose(device: dict[str, Any], inputs: SpaceInputs) -> PolicyChoice:
    """The inputs of `device`'s effective policy."""
    reaching = [c for c in _oldest_first(inputs.configs.values())
                if targets(c.data.get("distribution"), device)]
    config = None
    if reaching:
        top = max(c.data["priority"] for c in reaching)
        config = next(c for c in reaching if c.data["priority"] == top)  # oldest of the top
    vpns = [v for v in _oldest_first(inputs.vpn.values())
            if targets(v.data.get("distribution"), device)]
    return PolicyChoice(
        config_id=config.id if config else None,
        app_ids=tuple(sorted(a for a, app in inputs.apps.items()
                             if targets(app.data.get("distribution"), device))),
        wifi_ids=tuple(sorted(w for w, wifi in inputs.wifi.items()
                              if targets(wifi.data.get("distribution"), device))),
        vpn_id=vpns[0].id if vpns else None,
    )
