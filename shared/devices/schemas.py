"""Request and response schemas of the commands function."""

from __future__ import annotations

import re
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from shared.access.space_params import SpaceListQuerySchema, space_param
from shared.access.spaces import SPACE_ID, SPACE_ID_RULE
from shared.query_params import QueryBoolean, QuerySchema, QueryText, query_enum

COMMAND_TYPES = ("LOCK", "REBOOT", "SYNC", "WIPE", "RESET_PASSWORD", "CLEAR_APP_DATA",
                 "START_LOST_MODE", "STOP_LOST_MODE")
WIPE_FLAGS = ("PRESERVE_RESET_PROTECTION_DATA", "WIPE_EXTERNAL_STORAGE", "WIPE_ESIMS")
RESET_PASSWORD_FLAGS = ("REQUIRE_ENTRY", "DO_NOT_ASK_CREDENTIALS_ON_BOOT", "LOCK_NOW")
LOST_MODE_CONTACTS = ("lostMessage", "lostPhoneNumber", "lostEmailAddress", "lostStreetAddress")
PACKAGE = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]*(\.[a-zA-Z][a-zA-Z0-9_]*)+\Z")
LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,62}\Z")
# AMAPI's Device.state values.
DEVICE_STATES = ("DEVICE_STATE_UNSPECIFIED", "ACTIVE", "DISABLED", "DELETED", "PROVISIONING",
                 "LOST", "PREPARING_FOR_MIGRATION", "DEACTIVATED_BY_DEVICE_FINANCE")


def _text(limit: int) -> fields.String:
    return fields.String(validate=validate.Length(min=1, max=limit))


class ClearAppDataParams(Schema):
    """CLEAR_APP_DATA."""

    packageNames = fields.List(fields.String(validate=validate.Regexp(
        PACKAGE, error="must be an Android package name")), required=True,
        validate=validate.Length(min=1, max=100))


class ResetPasswordParams(Schema):
    """RESET_PASSWORD."""

    newPassword = fields.String(required=True, validate=validate.Length(min=4, max=64))
    resetPasswordFlags = fields.List(fields.String(validate=validate.OneOf(RESET_PASSWORD_FLAGS)))


class StartLostModeParams(Schema):
    """START_LOST_MODE: a message or a way to contact the owner is required."""

    lostMessage = _text(4096)
    lostPhoneNumber = _text(100)
    lostEmailAddress = fields.Email()
    lostStreetAddress = _text(1000)
    lostOrganization = _text(200)

    @validates_schema
    def _needs_a_contact(self, data: dict[str, Any], **_: Any) -> None:
        if not any(data.get(key) for key in LOST_MODE_CONTACTS):
            raise ValidationError(f"needs one of {', '.join(LOST_MODE_CONTACTS)}")


class WipeParams(Schema):
    """WIPE."""

    wipeDataFlags = fields.List(fields.String(validate=validate.OneOf(WIPE_FLAGS)))


class NoParams(Schema):
    """Commands without parameters."""


PARAMS: dict[str, type[Schema]] = {
    "LOCK": NoParams, "REBOOT": NoParams, "SYNC": NoParams, "STOP_LOST_MODE": NoParams,
    "WIPE": WipeParams, "RESET_PASSWORD": ResetPasswordParams,
    "CLEAR_APP_DATA": ClearAppDataParams, "START_LOST_MODE": StartLostModeParams,
}


class CommandRequestSchema(Schema):
    """POST /devices/{id}/commands."""

    type = fields.String(required=True, validate=validate.OneOf(COMMAND_TYPES))
    params = fields.Dict(keys=fields.String(), load_default=dict)
    reason = fields.String(validate=validate.Length(min=1, max=200))

    @validates_schema
    def _params_fit_the_type(self, data: dict[str, Any], **_: Any) -> None:
        kind = data.get("type")
        if kind not in PARAMS:
            return
        try:
            data["params"] = PARAMS[kind]().load(data.get("params") or {})
        except ValidationError as exc:
            raise ValidationError({"params": exc.messages}) from None
        if kind == "WIPE" and not data.get("reason"):
            raise ValidationError({"reason": ["a wipe needs a reason (it is audited)"]})


class CommandSchema(Schema):
    """A device command."""

    id = fields.String()
    deviceId = fields.String()
    type = fields.String()
    params = fields.Dict()
    reason = fields.String()
    state = fields.String(validate=validate.OneOf(
        ["PENDING", "SENT", "SUCCEEDED", "FAILED", "EXPIRED", "CANCELLED"]))
    operationName = fields.String()
    error = fields.Dict()
    result = fields.Dict()
    createTime = fields.String()
    updateTime = fields.String()


class CommandListSchema(Schema):
    """GET /devices/{id}/commands."""

    commands = fields.List(fields.Nested(CommandSchema))
    nextPageToken = fields.String()


def _labels(required: bool) -> fields.List[Any]:
    return fields.List(fields.String(validate=validate.Regexp(
        LABEL, error="must be 1-63 letters, digits or _ . : -, starting with a letter or digit")),
        required=required, validate=validate.Length(max=50))


class DeviceLabelsSchema(Schema):
    """A device's labels, replacing the ones it has."""

    labels = _labels(required=True)


class DevicePatchSchema(Schema):
    """PATCH /devices/{id}: labels, device user, space (at least one)."""

    labels = _labels(required=False)
    userName = fields.String(validate=validate.Length(min=1, max=64), metadata={
        "description": "a device user of the device's (new) space"})
    space = fields.String(validate=validate.Regexp(SPACE_ID, error=SPACE_ID_RULE), metadata={
        "description": "move the device to this space (ADMIN of both spaces)"})

    @validates_schema
    def _something_to_change(self, data: dict[str, Any], **_: Any) -> None:
        if not data:
            raise ValidationError("give labels, userName or space")


ENROLLMENT_RESULTS = ("ALLOWED", "REJECTED", "PENDING")
EXPORT_FORMATS = ("csv", "jsonl")


class DeviceFilters(QuerySchema):
    """The filters of the device list and export: each an exact match, all combined (AND)."""

    state = query_enum(DEVICE_STATES, "only devices in this AMAPI state")
    compliant = QueryBoolean(metadata={
        "description": "only devices whose applied policy is (true) or is not (false) compliant"})
    label = QueryText(metadata={"description": "only devices carrying this label"})
    profileId = QueryText(metadata={"description": "only devices enrolled with this profile"})
    userName = QueryText(metadata={"description": "only devices of this device user"})
    serialNumber = QueryText(metadata={"description": "only the device(s) with this hardware "
                                                      "serial number (exact)"})
    imei = QueryText(metadata={"description": "only the device(s) with this IMEI (exact)"})
    manufacturer = QueryText(metadata={"description": "only devices of this manufacturer "
                                                      "(exact, as the device reports it)"})
    model = QueryText(metadata={"description": "only devices of this model (exact)"})
    androidVersion = QueryText(metadata={"description": "only devices on this Android version "
                                                        "(exact, e.g. 14)"})
    configId = QueryText(metadata={"description": "only devices this COSU configuration "
                                                  "reaches (recorded on a policy compiled "
                                                  "from it)"})
    policyName = QueryText(metadata={"description": "only devices on this AMAPI policy "
                                                    "(enterprises/E/policies/P)"})
    enrollmentDecision = query_enum(ENROLLMENT_RESULTS, "only devices whose enrollment rules "
                                                        "gave this result")


class DeviceQuerySchema(SpaceListQuerySchema, DeviceFilters):
    """Filters of GET /devices (each one the same as its absence when empty)."""


class DeviceExportQuerySchema(DeviceFilters):
    """GET /devices:export: the list's filters, without pages, and the format."""

    space = space_param()
    format = QueryText(load_default="csv", validate=[validate.OneOf(
        EXPORT_FORMATS, error="must be one of {choices}")], metadata={
        "description": "csv (the default: a header row, then one row per device) or "
                       "jsonl (one JSON object per line)"})


class DeviceSchema(Schema):
    """A device of the inventory."""

    id = fields.String()
    name = fields.String()
    space = fields.String()
    userName = fields.String()
    profileId = fields.String()
    labels = fields.List(fields.String())
    customAttributes = fields.List(fields.Dict())
    state = fields.String()
    appliedState = fields.String()
    amapiEnabled = fields.Boolean()
    managementMode = fields.String()
    enrollTime = fields.String()
    lastStatusReportTime = fields.String()
    lastPolicySyncTime = fields.String()
    policy = fields.Dict()
    hardware = fields.Dict()
    software = fields.Dict()
    apps = fields.List(fields.Dict())
    enrollmentDecision = fields.Dict()
    effective = fields.Dict(metadata={
        "description": "device detail only: {cosuConfig: {id, name, priority} | null, apps: "
                       "[{packageName, title, why}], wifi: [{id, name, why}], vpn: {id, name, "
                       "why} | null, reason, wouldGet?} (wouldGet: what a device not yet "
                       "vetted gets once it is)"})


class DeviceListSchema(Schema):
    """GET /devices."""

    devices = fields.List(fields.Nested(DeviceSchema))
    nextPageToken = fields.String()


class ReconcileRequestSchema(Schema):
    """POST /reconcile-commands/ (scheduled)."""

    now = fields.AwareDateTime(metadata={
        "description": "emulators only: the rollout clock, to end staged rollouts' soaks early"})


class ReconcileResultSchema(Schema):
    """What a run of reconcile_commands did."""

    sent = fields.Integer()
    settled = fields.Integer()
    expired = fields.Integer()
    deferred = fields.Integer(metadata={"description": "commands left for the next run: "
                                                       "AMAPI throttled it or its time ran out"})
    rolloutsResumed = fields.Integer(metadata={
        "description": "rollouts whose worker message was re-sent: no progress for 2 minutes"})
    rolloutGatesRead = fields.Integer(metadata={
        "description": "staged rollouts whose stage soaked long enough and had its gate read"})
