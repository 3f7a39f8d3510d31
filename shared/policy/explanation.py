"""Why a device has its policy: which COSU configuration, apps, Wi-Fi and VPN it gets, and the
rule that chose each (pure, from the device's record and its space's inputs)."""

from __future__ import annotations

from typing import Any

from shared.policy.effective_policy import SpaceInputs, choose, targets
from shared.policy.push_plan import kiosk_packages
from shared.store.versioned import Stored


def _how(distribution: dict[str, Any] | None, device: dict[str, Any]) -> str:
    """How a distribution reaches the device, in words."""
    distribution = distribution or {}
    if distribution.get("mode") == "ALL":
        return "distributed to all devices"
    ids = set(distribution.get("deviceIds") or [])
    if device["id"] in ids or device.get("name") in ids:
        return "distributed to this device by id"
    labels = sorted(set(distribution.get("labels") or []) & set(device.get("labels") or []))
    if labels:
        return f"distributed to label {labels[0]!r}"
    return f"distributed to user {device.get('userName')!r}"


def _named(stored: Stored) -> dict[str, Any]:
    return {"id": stored.id, "name": stored.data.get("name")}


def explain(device: dict[str, Any], inputs: SpaceInputs) -> dict[str, Any]:
    """What `device` (its inventory record, with `id`) gets from `inputs` and why."""
    vetted = (device.get("enrollmentDecision") or {}).get("result") == "ALLOWED"
    choice = choose(device, inputs)
    config = inputs.configs.get(choice.config_id) if choice.config_id else None
    reaching = sorted((c for c in inputs.configs.values()
                       if targets(c.data.get("distribution"), device)),
                      key=lambda c: (-int(c.data.get("priority", 0)),
                                     str(c.data.get("createTime", "")), c.id))
    apps: list[dict[str, Any]] = []
    if config is not None:
        pinned, *launcher = kiosk_packages(config.data)
        apps.append({"packageName": pinned, "why": "the pinned kiosk app" if not launcher
                     else "on the kiosk launcher"})
        apps += [{"packageName": p, "why": "on the kiosk launcher"} for p in launcher]
    shown = {app["packageName"] for app in apps}
    apps += [{"packageName": package,
              "why": _how(inputs.apps[package].data.get("distribution"), device)}
             for package in choice.app_ids if package not in shown]
    vpn = inputs.vpn.get(choice.vpn_id) if choice.vpn_id else None
    if vpn is not None and vpn.data.get("packageName") not in {a["packageName"] for a in apps}:
        apps.append({"packageName": vpn.data.get("packageName"), "why": "the always-on VPN app"})
    for app in apps:
        catalog = inputs.apps.get(app["packageName"])
        app["title"] = (catalog.data.get("title") if catalog else None) or app["packageName"]

    gets = {
        "cosuConfig": ({**_named(config), "priority": config.data.get("priority")}
                       if config is not None else None),
        "apps": apps,
        "wifi": [{**_named(inputs.wifi[w]),
                  "why": _how(inputs.wifi[w].data.get("distribution"), device)}
                 for w in choice.wifi_ids],
        "vpn": ({**_named(vpn), "why": _how(vpn.data.get("distribution"), device)}
                if vpn is not None else None),
    }
    about = {"deviceId": device["id"], "policyName": device.get("policyName"),
             "appliedPolicyVersion": (device.get("compliance") or {}).get(
                 "appliedPolicyVersion")}
    if not vetted:
        result = (device.get("enrollmentDecision") or {}).get("result") or "PENDING"
        # It runs the holding policy: nothing chosen for it applies until it is vetted.
        return {**about, "cosuConfig": None, "apps": [], "wifi": [], "vpn": None,
                "wouldGet": gets,
                "reason": f"the device has not passed its space's enrollment rules ({result}): "
                          "it stays on the locked-down holding policy until it does; "
                          "wouldGet is what it gets then"}
    if config is None:
        reason = ("no COSU configuration is distributed to this device: it gets the "
                  "locked-down kiosk launcher with the apps, Wi-Fi and VPN distributed to it")
    else:
        reason = (f"COSU configuration {config.data.get('name')!r} (priority "
                  f"{config.data.get('priority')}, "
                  f"{_how(config.data.get('distribution'), device)}) is the highest-priority "
                  "configuration that reaches this device")
        others = [c for c in reaching if c.id != config.id]
        if others:
            ties = [c for c in others if c.data.get("priority") == config.data.get("priority")]
            reason += "; it also reaches: " + ", ".join(
                f"{c.data.get('name')!r} (priority {c.data.get('priority')})" for c in others)
            if ties:
                reason += " (same priority: the older configuration wins)"
    return {**about, **gets, "reason": reason}
