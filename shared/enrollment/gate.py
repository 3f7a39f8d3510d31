"""The enrollment rules of a space applied to one device: allowed, rejected (naming the rule), or
pending until the device reports what a rule needs (its security patch level comes with the
first status report when the enrollment notification lacks it)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

ALLOWED, REJECTED, PENDING = "ALLOWED", "REJECTED", "PENDING"

# Android version of each API level (softwareInfo is optional; apiLevel is always reported).
API_LEVEL_VERSIONS = {21: "5.0", 22: "5.1", 23: "6", 24: "7.0", 25: "7.1", 26: "8.0",
                      27: "8.1", 28: "9", 29: "10", 30: "11", 31: "12", 32: "12.1", 33: "13",
                      34: "14", 35: "15", 36: "16", 37: "17"}


@dataclass(frozen=True)
class Decision:
    """The outcome of the rules for one device."""

    result: str
    rule: str = ""
    reason: str = ""

    def to_json(self) -> dict[str, str]:
        """As stored and shown in `enrollmentDecision`."""
        body = {"result": self.result, "reason": self.reason}
        if self.rule:
            body["rule"] = self.rule
        return body


def _version(text: str) -> tuple[int, ...]:
    parts = re.findall(r"\d+", text)
    return tuple(int(p) for p in parts[:3]) or (0,)


def android_version(device: dict[str, Any]) -> str | None:
    """The device's Android version: reported, or derived from its API level."""
    reported = (device.get("softwareInfo") or {}).get("androidVersion")
    if reported:
        return str(reported)
    level = device.get("apiLevel")
    return API_LEVEL_VERSIONS.get(level) if isinstance(level, int) else None


def imeis(device: dict[str, Any]) -> set[str]:
    """Every IMEI the device reports (network info and telephony slots)."""
    network = device.get("networkInfo") or {}
    found = {network.get("imei")} | {t.get("imei") for t in network.get("telephonyInfos") or []
                                     if isinstance(t, dict)}
    return {str(i) for i in found if i}


def evaluate(rules: dict[str, Any], device: dict[str, Any]) -> Decision:
    """Apply `rules` (as stored by enrollment rules) to an AMAPI Device."""
    hardware = device.get("hardwareInfo") or {}
    allowlist = rules.get("allowlist") or {}
    if allowlist.get("enabled"):
        serial = str(hardware.get("serialNumber") or "")
        if serial not in set(allowlist.get("serialNumbers") or []) and not (
                imeis(device) & set(allowlist.get("imeis") or [])):
            return Decision(REJECTED, "allowlist",
                            f"serial number {serial or '(none)'} and IMEIs are not on the "
                            "allowlist")
    manufacturers = {m.lower() for m in rules.get("manufacturers") or []}
    maker = str(hardware.get("manufacturer") or "")
    if manufacturers and maker.lower() not in manufacturers:
        return Decision(REJECTED, "manufacturers", f"manufacturer {maker or '(none)'} is not "
                        f"allowed ({', '.join(sorted(rules['manufacturers']))})")
    minimum = rules.get("minAndroidVersion")
    if minimum:
        version = android_version(device)
        if version is None:
            return Decision(PENDING, "minAndroidVersion", "Android version not reported yet")
        if _version(version) < _version(minimum):
            return Decision(REJECTED, "minAndroidVersion",
                            f"Android {version} is older than the minimum {minimum}")
    minimum_patch = rules.get("minSecurityPatchLevel")
    if minimum_patch:
        patch = (device.get("softwareInfo") or {}).get("securityPatchLevel")
        if not patch:
            return Decision(PENDING, "minSecurityPatchLevel",
                            "security patch level not reported yet")
        if str(patch) < str(minimum_patch):
            return Decision(REJECTED, "minSecurityPatchLevel",
                            f"security patch level {patch} is older than {minimum_patch}")
    return Decision(ALLOWED)
