"""App feedback (keyed app states) aggregated over the devices that report it."""

from __future__ import annotations

import datetime
from collections import Counter
from typing import Any

from shared.clock import rfc3339
from shared.store import app_feedback as store

MAX_STATES = 1000


def aggregate(spaces: list[str], package_name: str) -> dict[str, Any]:
    """`{packageName, devicesReporting, bySeverity, states}` for one app over the devices of
    `spaces` (its own and those it is delegated to), worst first."""
    states: list[dict[str, Any]] = []
    for space in spaces:
        states += store.for_package(space, package_name, MAX_STATES - len(states))
        if len(states) >= MAX_STATES:
            break
    severities = Counter(state.get("severity", "INFO") for state in states)
    shown = [{"deviceId": s["deviceId"], "key": s["key"], "severity": s.get("severity", "INFO"),
              "message": s.get("message", ""), "data": s.get("data", ""),
              "lastUpdateTime": _text(s.get("lastUpdateTime"))} for s in states]
    shown.sort(key=lambda s: (s["severity"] != "ERROR", s["deviceId"], s["key"]))
    return {"packageName": package_name,
            "devicesReporting": len({s["deviceId"] for s in states}),
            "bySeverity": {"ERROR": severities.get("ERROR", 0),
                           "INFO": severities.get("INFO", 0)},
            "states": shown}


def _text(value: Any) -> str:
    if isinstance(value, datetime.datetime):
        return rfc3339(value)
    return str(value or "")
