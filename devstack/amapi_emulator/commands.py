"""Device commands: the type a Command asks for and how a simulated device answers it."""

from __future__ import annotations

from typing import Any

from devstack.amapi_emulator import errors

COMMAND_TYPE_URL = "type.googleapis.com/google.android.devicemanagement.v1.Command"
DEFAULT_DURATION = "600s"
TYPE_BY_PARAMS = {
    "clearAppsDataParams": "CLEAR_APP_DATA",
    "startLostModeParams": "START_LOST_MODE",
    "stopLostModeParams": "STOP_LOST_MODE",
    "addEsimParams": "ADD_ESIM",
    "removeEsimParams": "REMOVE_ESIM",
    "requestDeviceInfoParams": "REQUEST_DEVICE_INFO",
    "wipeParams": "WIPE",
}
# Output-only Command fields: a caller may send them, the server never keeps them.
READ_ONLY_FIELDS = frozenset({
    "createTime", "userName", "errorCode", "clearAppsDataStatus", "startLostModeStatus",
    "stopLostModeStatus", "esimStatus", "requestDeviceInfoStatus",
})
ESIM_MIN_API_LEVEL = 35
NUMERIC_PASSWORD_MIN_LENGTH = 6
NUMERIC_PASSWORD_RULE_API_LEVEL = 34
RPC_INVALID_ARGUMENT = 3
RPC_FAILED_PRECONDITION = 9


def command_type(command: dict[str, Any]) -> str:
    """The command's type, inferred from its *Params field when `type` is omitted."""
    given = command.get("type")
    if given == "COMMAND_TYPE_UNSPECIFIED":
        given = None
    implied = {kind for key, kind in TYPE_BY_PARAMS.items() if command.get(key) is not None}
    if len(implied) > 1:
        raise errors.bad_request("Only one command parameters field may be set.")
    inferred = next(iter(implied), None)
    if given and inferred and given != inferred:
        raise errors.bad_request(
            f"Command type {given} does not match the parameters given for {inferred}.")
    kind = given or inferred
    if not kind:
        raise errors.bad_request("Command type must be specified.")
    return kind


def command_metadata(command: dict[str, Any], kind: str, create_time: str) -> dict[str, Any]:
    """The Command stored in the Operation's metadata (never the new password)."""
    kept = {key: value for key, value in command.items()
            if key not in READ_ONLY_FIELDS and key not in ("type", "duration", "newPassword")
            and value is not None}
    return {"@type": COMMAND_TYPE_URL, "type": kind, "createTime": create_time,
            "duration": command.get("duration") or DEFAULT_DURATION, **kept}


def _failure(code: str, rpc_code: int, message: str) -> tuple[dict[str, Any], dict[str, Any]]:
    return {"errorCode": code}, {"code": rpc_code, "message": message}


def device_outcome(metadata: dict[str, Any], device: dict[str, Any],
                   new_password: str | None) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """What the device adds to the metadata when it executes the command, and any error."""
    kind = metadata["type"]
    api_level = int(device.get("apiLevel") or 0)
    if kind == "RESET_PASSWORD":
        if (api_level >= NUMERIC_PASSWORD_RULE_API_LEVEL and new_password
                and new_password.isdigit() and len(new_password) < NUMERIC_PASSWORD_MIN_LENGTH):
            return _failure("INVALID_VALUE", RPC_INVALID_ARGUMENT,
                            "Numeric passwords must be at least 6 characters on Android 14+.")
        return {}, None
    if kind == "CLEAR_APP_DATA":
        packages = (metadata.get("clearAppsDataParams") or {}).get("packageNames") or []
        results = {package: {"clearingResult": "SUCCESS"} for package in packages}
        return {"clearAppsDataStatus": {"results": results}}, None
    if kind == "START_LOST_MODE":
        return {"startLostModeStatus": {"status": "SUCCESS"}}, None
    if kind == "STOP_LOST_MODE":
        return {"stopLostModeStatus": {"status": "SUCCESS"}}, None
    if kind in ("ADD_ESIM", "REMOVE_ESIM"):
        if api_level < ESIM_MIN_API_LEVEL:
            return _failure("API_LEVEL", RPC_FAILED_PRECONDITION,
                            "eSIM commands need Android 15 or later.")
        return {"esimStatus": {"status": "SUCCESS"}}, None
    if kind == "REQUEST_DEVICE_INFO":
        return {"requestDeviceInfoStatus": {"status": "UNSUPPORTED"}}, None
    if kind == "RELINQUISH_OWNERSHIP" and device.get("managementMode") == "DEVICE_OWNER":
        return _failure("MANAGEMENT_MODE", RPC_FAILED_PRECONDITION,
                        "Relinquishing ownership needs a company-owned work profile device.")
    return {}, None
