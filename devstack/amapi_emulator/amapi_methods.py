"""The AMAPI v1 methods the emulator serves, one function per discovery method id.

Requests reach these already routed and validated against the discovery document; each
method applies AMAPI's semantics to the in-memory state and returns the response body.
"""

from __future__ import annotations

import copy
import json
import secrets
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from devstack.amapi_emulator import commands, errors
from devstack.amapi_emulator.clock import add_capped, duration_seconds, format_timestamp
from devstack.amapi_emulator.discovery import Method
from devstack.amapi_emulator.field_masks import apply_update_mask, replace_fields
from devstack.amapi_emulator.pagination import paginate
from devstack.amapi_emulator.policy_rules import policy_problems
from devstack.amapi_emulator.simulation import Simulation
from devstack.amapi_emulator.state import (
    EnrollmentTokenRecord,
    OperationRecord,
    SignupRecord,
    new_enterprise_id,
    new_token_value,
    random_string,
)
from devstack.amapi_emulator.validation import mask_paths, validate_update_mask

DEFAULT_TOKEN_DURATION = "3600s"
MIN_TOKEN_SECONDS = 60
MAX_ADDITIONAL_DATA = 1024
MAX_WIPE_REASON = 200
MAX_DISPLAY_NAME = 100
TOKEN_PARTIAL_VIEW = ("name", "expirationTimestamp", "allowPersonalUsage", "value", "qrCode")
DEVICE_WRITABLE = ("state", "policyName", "disabledReason")
ENTERPRISE_SERVER_FIELDS = ("name", "enterpriseType", "managedGooglePlayAccountsEnterpriseType",
                            "managedGoogleDomainType")
QR_COMPONENT = "com.google.android.apps.work.clouddpc/.receivers.CloudDeviceAdminReceiver"
QR_CHECKSUM = "I5YvS0O5hXY46mb01BlRjq4oJJGs2kuUcHvVkAPEXlg"
QR_DOWNLOAD = "https://play.google.com/managed/downloadManagingApp?identifier=setup"
QR_TOKEN_EXTRA = "com.google.android.apps.work.clouddpc.EXTRA_ENROLLMENT_TOKEN"


@dataclass(frozen=True)
class Call:
    """One routed AMAPI request: path variables, query parameters and the JSON body."""

    method: Method
    path: dict[str, str]
    query: dict[str, list[str]]
    body: dict[str, Any]

    def arg(self, name: str) -> str | None:
        """The last value of a query parameter, or None."""
        values = self.query.get(name)
        return values[-1] if values else None

    @property
    def enterprise(self) -> str:
        """`enterprises/E` from the path."""
        return f"enterprises/{self.path['enterprisesId']}"

    @property
    def device(self) -> str:
        """`enterprises/E/devices/D` from the path."""
        return f"{self.enterprise}/devices/{self.path['devicesId']}"


def qr_code(token_value: str) -> str:
    """The provisioning JSON AMAPI returns as `EnrollmentToken.qrCode`."""
    return json.dumps({
        "android.app.extra.PROVISIONING_DEVICE_ADMIN_COMPONENT_NAME": QR_COMPONENT,
        "android.app.extra.PROVISIONING_DEVICE_ADMIN_SIGNATURE_CHECKSUM": QR_CHECKSUM,
        "android.app.extra.PROVISIONING_DEVICE_ADMIN_PACKAGE_DOWNLOAD_LOCATION": QR_DOWNLOAD,
        "android.app.extra.PROVISIONING_ADMIN_EXTRAS_BUNDLE": {QR_TOKEN_EXTRA: token_value},
    })


def full_name(enterprise: str, collection: str, name_or_id: str) -> str:
    """A resource name from a bare id (AMAPI accepts `policyName: "kiosk"`)."""
    return name_or_id if "/" in name_or_id else f"{enterprise}/{collection}/{name_or_id}"


def _list_response(key: str, page: list[dict[str, Any]], token: str | None) -> dict[str, Any]:
    # Google omits empty repeated fields and absent tokens from JSON responses.
    response: dict[str, Any] = {}
    if page:
        response[key] = [copy.deepcopy(item) for item in page]
    if token:
        response["nextPageToken"] = token
    return response


def _checked_mask(schema_name: str, call: Call) -> list[str] | None:
    mask = call.arg("updateMask")
    if mask is None:
        return None
    problems = validate_update_mask(schema_name, mask)
    if problems:
        raise errors.invalid_argument(problems)
    return mask_paths(mask)


class AmapiMethods:
    """AMAPI method implementations over a Simulation, keyed by short method id."""

    def __init__(self, simulation: Simulation) -> None:
        self.sim = simulation
        self.handlers: dict[str, Callable[[Call], dict[str, Any]]] = {
            "signupUrls.create": self.signup_urls_create,
            "enterprises.create": self.enterprises_create,
            "enterprises.get": self.enterprises_get,
            "enterprises.list": self.enterprises_list,
            "enterprises.patch": self.enterprises_patch,
            "enterprises.delete": self.enterprises_delete,
            "enterprises.policies.get": self.policies_get,
            "enterprises.policies.list": self.policies_list,
            "enterprises.policies.patch": self.policies_patch,
            "enterprises.policies.delete": self.policies_delete,
            "enterprises.enrollmentTokens.create": self.tokens_create,
            "enterprises.enrollmentTokens.get": self.tokens_get,
            "enterprises.enrollmentTokens.list": self.tokens_list,
            "enterprises.enrollmentTokens.delete": self.tokens_delete,
            "enterprises.devices.get": self.devices_get,
            "enterprises.devices.list": self.devices_list,
            "enterprises.devices.patch": self.devices_patch,
            "enterprises.devices.delete": self.devices_delete,
            "enterprises.devices.issueCommand": self.devices_issue_command,
            "enterprises.devices.operations.get": self.operations_get,
            "enterprises.devices.operations.list": self.operations_list,
            "enterprises.devices.operations.cancel": self.operations_cancel,
        }

    # Signup and enterprises.

    def signup_urls_create(self, call: Call) -> dict[str, Any]:
        """signupUrls.create: a signup URL to be "completed" through the control API."""
        callback = call.arg("callbackUrl")
        if not callback:
            raise errors.bad_request("callbackUrl is required.")
        query = {"callbackUrl": callback, "token": random_string(24)}
        admin_email = call.arg("adminEmail")
        if admin_email:
            query["adminEmail"] = admin_email
        resource = {
            "name": f"signupUrls/C{secrets.token_hex(8)}",
            "url": ("https://enterprise.google.com/signup/android/email?"
                    + urllib.parse.urlencode(query)),
        }
        with self.sim.transaction():
            self.sim.state.signups[resource["name"]] = SignupRecord(
                resource=resource, project_id=call.arg("projectId") or "", callback_url=callback)
        return dict(resource)

    def enterprises_create(self, call: Call) -> dict[str, Any]:
        """enterprises.create: only from a completed signup URL and its enterprise token."""
        signup_name = call.arg("signupUrlName")
        enterprise_token = call.arg("enterpriseToken")
        if not signup_name or not enterprise_token:
            raise errors.bad_request("signupUrlName and enterpriseToken are required.")
        with self.sim.transaction():
            signup = self.sim.state.signups.get(signup_name)
            if signup is None:
                raise errors.bad_request(f"Unknown signup URL {signup_name}.")
            if signup.enterprise_token is None:
                raise errors.failed_precondition("The signup has not been completed.")
            if not secrets.compare_digest(signup.enterprise_token, enterprise_token):
                raise errors.bad_request("Invalid enterprise token.")
            if signup.used:
                raise errors.failed_precondition(
                    "An enterprise was already created with this signup URL.")
            signup.used = True
            name = f"enterprises/{new_enterprise_id()}"
            enterprise = {key: copy.deepcopy(value) for key, value in call.body.items()
                          if key not in ENTERPRISE_SERVER_FIELDS and value is not None}
            enterprise.update({
                "name": name,
                "enterpriseType": "MANAGED_GOOGLE_PLAY_ACCOUNTS_ENTERPRISE",
                "managedGooglePlayAccountsEnterpriseType": "CUSTOMER_MANAGED",
            })
            self.sim.state.enterprises[name] = enterprise
            return copy.deepcopy(enterprise)

    def enterprises_get(self, call: Call) -> dict[str, Any]:
        """enterprises.get."""
        with self.sim.transaction():
            return copy.deepcopy(self.sim.enterprise(call.enterprise))

    def enterprises_list(self, call: Call) -> dict[str, Any]:
        """enterprises.list: every enterprise (BASIC view), whatever the projectId."""
        if not call.arg("projectId"):
            raise errors.bad_request("projectId is required.")
        with self.sim.transaction():
            basic = [{key: value for key, value in enterprise.items()
                      if key in ("name", "enterpriseDisplayName")}
                     for enterprise in self.sim.state.enterprises.values()]
        page, token = paginate(basic, call.arg("pageSize"), call.arg("pageToken"))
        return _list_response("enterprises", page, token)

    def enterprises_patch(self, call: Call) -> dict[str, Any]:
        """enterprises.patch: the masked fields, or every modifiable field without a mask."""
        paths = _checked_mask("Enterprise", call)
        display_name = call.body.get("enterpriseDisplayName") or ""
        if len(display_name) > MAX_DISPLAY_NAME:
            raise errors.invalid_argument([
                f"Invalid value at 'enterprise.enterpriseDisplayName': longer than "
                f"{MAX_DISPLAY_NAME} characters."])
        body = {key: value for key, value in call.body.items()
                if key not in ENTERPRISE_SERVER_FIELDS}
        with self.sim.transaction():
            enterprise = self.sim.enterprise(call.enterprise)
            if paths is None:
                replace_fields(enterprise, body, ENTERPRISE_SERVER_FIELDS)
            else:
                apply_update_mask(enterprise, body,
                                  [p for p in paths if p not in ENTERPRISE_SERVER_FIELDS])
            return copy.deepcopy(enterprise)

    def enterprises_delete(self, call: Call) -> dict[str, Any]:
        """enterprises.delete: the enterprise and everything below it."""
        with self.sim.transaction():
            name = call.enterprise
            self.sim.enterprise(name)
            del self.sim.state.enterprises[name]
            prefix = name + "/"
            for collection in (self.sim.state.policies, self.sim.state.tokens,
                               self.sim.state.devices, self.sim.state.operations):
                for key in [key for key in collection if key.startswith(prefix)]:
                    del collection[key]
        return {}

    # Policies.

    def _policy_name(self, call: Call) -> str:
        return f"{call.enterprise}/policies/{call.path['policiesId']}"

    def policies_get(self, call: Call) -> dict[str, Any]:
        """enterprises.policies.get."""
        with self.sim.transaction():
            self.sim.enterprise(call.enterprise)
            policy = self.sim.state.policies.get(self._policy_name(call))
            if policy is None:
                raise errors.not_found()
            return copy.deepcopy(policy)

    def policies_list(self, call: Call) -> dict[str, Any]:
        """enterprises.policies.list."""
        with self.sim.transaction():
            self.sim.enterprise(call.enterprise)
            prefix = call.enterprise + "/policies/"
            policies = [p for name, p in self.sim.state.policies.items()
                        if name.startswith(prefix)]
            page, token = paginate(policies, call.arg("pageSize"), call.arg("pageToken"))
            return _list_response("policies", page, token)

    def policies_patch(self, call: Call) -> dict[str, Any]:
        """enterprises.policies.patch: upsert, bump `version`, devices apply; rules refuse."""
        paths = _checked_mask("Policy", call)
        body = {key: value for key, value in call.body.items()
                if key not in ("name", "version")}
        with self.sim.transaction():
            self.sim.enterprise(call.enterprise)
            name = self._policy_name(call)
            existing = self.sim.state.policies.get(name)
            policy: dict[str, Any] = copy.deepcopy(existing) if existing else {}
            if paths is None:
                replace_fields(policy, body, ())
            else:
                apply_update_mask(policy, body, [p for p in paths if p not in ("name", "version")])
            # Google judges the policy the patch would leave, so a mask can break a rule too.
            problems = policy_problems(policy)
            if problems:
                raise errors.invalid_argument(problems)
            policy["name"] = name
            policy["version"] = str(int(existing["version"]) + 1) if existing else "1"
            self.sim.state.policies[name] = policy
            self.sim.schedule_apply_policy(name)
            return copy.deepcopy(policy)

    def policies_delete(self, call: Call) -> dict[str, Any]:
        """enterprises.policies.delete: refused while a device still uses the policy."""
        with self.sim.transaction():
            self.sim.enterprise(call.enterprise)
            name = self._policy_name(call)
            if name not in self.sim.state.policies:
                raise errors.not_found()
            if any(device.get("policyName") == name
                   for device in self.sim.state.devices.values()):
                raise errors.failed_precondition(
                    f"Policy {name} is in use by at least one device and cannot be deleted.")
            del self.sim.state.policies[name]
        return {}

    # Enrollment tokens.

    def _token_name(self, call: Call) -> str:
        return f"{call.enterprise}/enrollmentTokens/{call.path['enrollmentTokensId']}"

    def _active_token(self, record: EnrollmentTokenRecord | None) -> bool:
        if record is None or record.expires <= self.sim.clock.now():
            return False
        return not (record.used and record.resource.get("oneTimeOnly"))

    def tokens_create(self, call: Call) -> dict[str, Any]:
        """enterprises.enrollmentTokens.create: value, expiry and QR code made by the server."""
        body = call.body
        additional = body.get("additionalData")
        if additional is not None and len(additional) > MAX_ADDITIONAL_DATA:
            raise errors.invalid_argument([
                f"Invalid value at 'enrollmentToken.additionalData': must be at most "
                f"{MAX_ADDITIONAL_DATA} characters, got {len(additional)}."])
        duration = body.get("duration") or DEFAULT_TOKEN_DURATION
        seconds = duration_seconds(duration)
        if seconds < MIN_TOKEN_SECONDS:
            raise errors.invalid_argument([
                f"Invalid value at 'enrollmentToken.duration': must be at least "
                f"{MIN_TOKEN_SECONDS}s, got {json.dumps(duration)}."])
        with self.sim.transaction():
            enterprise = call.enterprise
            self.sim.enterprise(enterprise)
            value = new_token_value()
            expires = add_capped(self.sim.clock.now(), seconds)
            token: dict[str, Any] = {
                "name": f"{enterprise}/enrollmentTokens/{random_string(32)}",
                "value": value,
                "expirationTimestamp": format_timestamp(expires),
                "duration": duration,
                "qrCode": qr_code(value),
            }
            if body.get("policyName"):
                token["policyName"] = full_name(enterprise, "policies", body["policyName"])
            for key in ("allowPersonalUsage", "additionalData", "oneTimeOnly",
                        "googleAuthenticationOptions"):
                if body.get(key):
                    token[key] = copy.deepcopy(body[key])
            self.sim.state.tokens[token["name"]] = EnrollmentTokenRecord(token, expires)
            return copy.deepcopy(token)

    def tokens_get(self, call: Call) -> dict[str, Any]:
        """enterprises.enrollmentTokens.get: active tokens only, in AMAPI's partial view."""
        with self.sim.transaction():
            self.sim.enterprise(call.enterprise)
            record = self.sim.state.tokens.get(self._token_name(call))
            if record is None or not self._active_token(record):
                raise errors.not_found()
            return {key: record.resource[key] for key in TOKEN_PARTIAL_VIEW
                    if key in record.resource}

    def tokens_list(self, call: Call) -> dict[str, Any]:
        """enterprises.enrollmentTokens.list: active tokens only, in AMAPI's partial view."""
        with self.sim.transaction():
            self.sim.enterprise(call.enterprise)
            prefix = call.enterprise + "/"
            active = [{key: record.resource[key] for key in TOKEN_PARTIAL_VIEW
                       if key in record.resource}
                      for name, record in self.sim.state.tokens.items()
                      if name.startswith(prefix) and self._active_token(record)]
        page, token = paginate(active, call.arg("pageSize"), call.arg("pageToken"))
        return _list_response("enrollmentTokens", page, token)

    def tokens_delete(self, call: Call) -> dict[str, Any]:
        """enterprises.enrollmentTokens.delete: the token can no longer enroll devices."""
        with self.sim.transaction():
            self.sim.enterprise(call.enterprise)
            if self.sim.state.tokens.pop(self._token_name(call), None) is None:
                raise errors.not_found()
        return {}

    # Devices.

    def devices_get(self, call: Call) -> dict[str, Any]:
        """enterprises.devices.get: 404 once deleted."""
        with self.sim.transaction():
            return copy.deepcopy(self.sim.device(call.device))

    def devices_list(self, call: Call) -> dict[str, Any]:
        """enterprises.devices.list: deleted devices are not listed."""
        with self.sim.transaction():
            self.sim.enterprise(call.enterprise)
            prefix = call.enterprise + "/"
            devices = [d for name, d in self.sim.state.devices.items() if name.startswith(prefix)]
            page, token = paginate(devices, call.arg("pageSize"), call.arg("pageToken"))
            return _list_response("devices", page, token)

    def devices_patch(self, call: Call) -> dict[str, Any]:
        """enterprises.devices.patch: only `state`, `policyName` and `disabledReason` change."""
        paths = _checked_mask("Device", call)
        if paths is None:
            paths = [key for key in DEVICE_WRITABLE if call.body.get(key) is not None]
        not_writable = [path for path in paths if path.split(".")[0] not in DEVICE_WRITABLE]
        if not_writable:
            raise errors.invalid_argument([
                f"Invalid value at 'updateMask': field {json.dumps(path)} of Device cannot be "
                f"modified." for path in not_writable])
        if "state" in paths and call.body.get("state") not in ("ACTIVE", "DISABLED"):
            raise errors.invalid_argument([
                f"Invalid value at 'device.state': only ACTIVE or DISABLED may be set, got "
                f"{json.dumps(call.body.get('state'))}."])
        with self.sim.transaction():
            device = self.sim.device(call.device)
            before = (device.get("state"), device.get("policyName"))
            body = dict(call.body)
            if body.get("policyName"):
                body["policyName"] = full_name(call.enterprise, "policies", body["policyName"])
            apply_update_mask(device, body, paths)
            if (device.get("state"), device.get("policyName")) != before:
                self.sim.schedule_apply(call.device)
            return copy.deepcopy(device)

    def devices_delete(self, call: Call) -> dict[str, Any]:
        """enterprises.devices.delete: gone at once; a DELETED report follows."""
        reason = call.arg("wipeReasonMessage") or ""
        if len(reason) > MAX_WIPE_REASON:
            raise errors.invalid_argument([
                f"Invalid value at 'wipeReasonMessage': must be at most {MAX_WIPE_REASON} "
                f"characters."])
        with self.sim.transaction():
            self.sim.device(call.device)
            self.sim.delete_device(call.device)
        return {}

    def devices_issue_command(self, call: Call) -> dict[str, Any]:
        """enterprises.devices.issueCommand: an Operation the device completes shortly."""
        kind = commands.command_type(call.body)
        with self.sim.transaction():
            self.sim.device(call.device)
            state = self.sim.state
            now = self.sim.clock.now()
            state.last_operation_id = max(state.last_operation_id + 1,
                                          int(now.timestamp() * 1000))
            name = f"{call.device}/operations/{state.last_operation_id}"
            operation = {
                "name": name,
                "metadata": commands.command_metadata(call.body, kind, format_timestamp(now)),
                "done": False,
            }
            state.operations[name] = OperationRecord(
                resource=operation, device_name=call.device,
                new_password=call.body.get("newPassword"))
            self.sim.schedule_completion(name)
            return copy.deepcopy(operation)

    # Operations.

    def _operation_name(self, call: Call) -> str:
        return f"{call.device}/operations/{call.path['operationsId']}"

    def operations_get(self, call: Call) -> dict[str, Any]:
        """enterprises.devices.operations.get (also after the device was deleted)."""
        with self.sim.transaction():
            self.sim.enterprise(call.enterprise)
            record = self.sim.state.operations.get(self._operation_name(call))
            if record is None:
                raise errors.not_found()
            return copy.deepcopy(record.resource)

    def operations_list(self, call: Call) -> dict[str, Any]:
        """enterprises.devices.operations.list: the device's commands, oldest first."""
        with self.sim.transaction():
            self.sim.enterprise(call.enterprise)
            prefix = call.device + "/operations/"
            operations = [record.resource for name, record in self.sim.state.operations.items()
                          if name.startswith(prefix)]
            page, token = paginate(operations, call.arg("pageSize"), call.arg("pageToken"))
            return _list_response("operations", page, token)

    def operations_cancel(self, call: Call) -> dict[str, Any]:
        """enterprises.devices.operations.cancel: a pending command ends CANCELLED."""
        with self.sim.transaction() as outbox:
            self.sim.enterprise(call.enterprise)
            self.sim.cancel_operation(outbox, self._operation_name(call))
        return {}

