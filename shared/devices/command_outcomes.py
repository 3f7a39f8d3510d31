"""What a finished AMAPI Operation means for the command it carried (pure)."""

from __future__ import annotations

from typing import Any

_STATUS_FIELDS = ("clearAppsDataStatus", "startLostModeStatus", "stopLostModeStatus",
                  "esimStatus", "requestDeviceInfoStatus")


def command_outcome(operation: dict[str, Any]) -> dict[str, Any]:
    """A finished Operation as a command result: command status, then errorCode, then error."""
    metadata = operation.get("metadata") or {}
    statuses = {k: metadata[k] for k in _STATUS_FIELDS if k in metadata}
    problems = []
    for field, status in statuses.items():
        if field == "clearAppsDataStatus":
            results = (status.get("results") or {}).items()
            failing = {pkg: r.get("clearingResult") for pkg, r in results
                       if r.get("clearingResult") != "SUCCESS"}
            if failing:
                problems.append(f"{field}: {failing}")
        elif isinstance(status, dict) and status.get("status") not in (None, "SUCCESS"):
            problems.append(f"{field}: {status.get('status')}")
    error = operation.get("error") or {}
    if metadata.get("errorCode"):
        problems.append(f"errorCode: {metadata['errorCode']}")
    if error:
        problems.append(str(error.get("message") or f"error code {error.get('code')}"))
    if not problems:
        return {"state": "SUCCEEDED", "result": statuses}
    state = "CANCELLED" if error.get("code") == 1 else "FAILED"
    return {"state": state, "result": statuses,
            "error": {"code": error.get("code"), "message": "; ".join(problems),
                      "errorCode": metadata.get("errorCode")}}
