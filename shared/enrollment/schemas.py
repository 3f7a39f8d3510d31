"""Request and response schemas of the enroll function (the OpenAPI document is built from them)."""

from __future__ import annotations

import re
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from shared.access.space_params import SpaceListQuerySchema, space_param
from shared.access.spaces import GLOBAL, SPACE_ID, SPACE_ID_RULE
from shared.query_params import QuerySchema, QueryText, query_enum
from shared.schema_fields import StrictBoolean, calendar_date

MIN_VALIDITY_DAYS = 1
MAX_VALIDITY_DAYS = 30
ATTRIBUTE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}\Z")
USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}\Z")
MAX_ALLOWLIST_ENTRIES = 5000
# USED: a one-time profile whose current token has enrolled its device.
PROFILE_STATUSES = ("ACTIVE", "EXPIRED", "USED")


def _space_field() -> fields.String:
    return fields.String(load_default=GLOBAL,
                         validate=validate.Regexp(SPACE_ID, error=SPACE_ID_RULE))


def _allowed_values() -> fields.List[Any]:
    return fields.List(
        fields.String(validate=validate.Length(max=256)), allow_none=True,
        validate=[validate.Length(min=1, max=200), _unique_values], metadata={
            "description": "the only values a profile may give it (null or absent: any)"})


def _unique_values(values: list[str]) -> None:
    if len(set(values)) != len(values):
        raise ValidationError("must not repeat a value")


class DeviceUserCreateSchema(Schema):
    """POST /users."""

    userName = fields.String(required=True, validate=validate.Regexp(
        USER_NAME, error="must be 1-64 letters, digits or . _ @ + -, starting with a letter "
                         "or digit"))
    displayName = fields.String(validate=validate.Length(min=1, max=100))
    email = fields.Email(validate=validate.Length(max=254))
    space = _space_field()


IMMUTABLE_USER_FIELDS = ("userName", "space", "id", "createTime", "updateTime", "etag")


class DeviceUserPatchSchema(Schema):
    """PATCH /users/{id}: the descriptive fields (null clears one).

    `userName` is immutable: devices, profiles, their AMAPI enrollment tokens and
    distributions name the user by it.
    """

    displayName = fields.String(allow_none=True, validate=validate.Length(min=1, max=100))
    email = fields.Email(allow_none=True, validate=validate.Length(max=254))

    @validates_schema
    def _something_to_change(self, data: dict[str, Any], **_: Any) -> None:
        if not data:
            raise ValidationError("give displayName or email")


class DeviceUserSchema(Schema):
    """A device user."""

    id = fields.String()
    userName = fields.String()
    displayName = fields.String()
    email = fields.String()
    space = fields.String()
    createTime = fields.String()
    updateTime = fields.String()
    etag = fields.String()


class DeviceUserListSchema(Schema):
    """GET /users."""

    users = fields.List(fields.Nested(DeviceUserSchema))
    nextPageToken = fields.String()


class UserQuerySchema(SpaceListQuerySchema):
    """Query of GET /users."""

    # An empty prefix is a prefix: it matches every user (type-ahead before the first key).
    prefix = QueryText(blank_is_absent=False, metadata={
        "description": "case-insensitive prefix of userName or displayName (type-ahead: one "
                       "page of matches, no pageToken); empty matches every user"})


class DeviceAttributeCreateSchema(Schema):
    """POST /device-attributes."""

    name = fields.String(required=True, validate=validate.Regexp(
        ATTRIBUTE_NAME, error="must start with a letter, then up to 63 letters, digits, _ . or -"))
    description = fields.String(validate=validate.Length(max=500))
    allowedValues = _allowed_values()
    required = StrictBoolean(load_default=False, metadata={
        "description": "every enrollment profile created in the spaces it governs must give "
                       "it a value"})
    space = _space_field()


IMMUTABLE_ATTRIBUTE_FIELDS = ("name", "space", "id", "createTime", "updateTime", "etag")


class DeviceAttributePatchSchema(Schema):
    """PATCH /device-attributes/{id}: what profiles and devices may carry (null clears)."""

    description = fields.String(allow_none=True, validate=validate.Length(max=500))
    allowedValues = _allowed_values()
    required = StrictBoolean()

    @validates_schema
    def _something_to_change(self, data: dict[str, Any], **_: Any) -> None:
        if not data:
            raise ValidationError("give description, allowedValues or required")


class DeviceAttributeSchema(Schema):
    """A custom device attribute definition."""

    id = fields.String()
    name = fields.String()
    description = fields.String()
    allowedValues = fields.List(fields.String())
    required = fields.Boolean()
    space = fields.String()
    createTime = fields.String()
    updateTime = fields.String()
    etag = fields.String()


class DeviceAttributeListSchema(Schema):
    """GET /device-attributes."""

    deviceAttributes = fields.List(fields.Nested(DeviceAttributeSchema))
    nextPageToken = fields.String()


class CustomAttributeValueSchema(Schema):
    """One custom attribute value of a profile."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=64))
    value = fields.String(required=True, validate=validate.Length(max=256))


def _validity_days() -> fields.Integer:
    return fields.Integer(required=True, strict=True, validate=validate.Range(
        MIN_VALIDITY_DAYS, MAX_VALIDITY_DAYS,
        error=f"must be an integer between {MIN_VALIDITY_DAYS} and {MAX_VALIDITY_DAYS}"))


class EnrollmentProfileCreateSchema(Schema):
    """POST /enrollment-profiles."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    description = fields.String(validate=validate.Length(max=1000))
    userName = fields.String(required=True, validate=validate.Length(min=1, max=64))
    validityDays = _validity_days()
    customAttributes = fields.List(fields.Nested(CustomAttributeValueSchema),
                                   load_default=list)
    space = _space_field()
    oneTimeOnly = StrictBoolean(load_default=False, metadata={
        "description": "each token the profile issues enrolls one device only; the profile is "
                       "then USED until a validity edit issues a fresh token"})

    @validates_schema
    def _attribute_names_are_unique(self, data: dict[str, Any], **_: Any) -> None:
        seen: set[str] = set()
        for index, attribute in enumerate(data.get("customAttributes") or []):
            key = attribute["name"].lower()
            if key in seen:
                raise ValidationError({"customAttributes": {index: {"name": [
                    f"duplicates attribute {attribute['name']!r}"]}}})
            seen.add(key)


IMMUTABLE_PROFILE_FIELDS = ("name", "description", "userName", "customAttributes", "space",
                            "oneTimeOnly", "id", "status", "token", "qrCode", "qrImage",
                            "enrolledDevices", "createTime", "updateTime", "etag")


class EnrollmentProfileEditSchema(Schema):
    """PATCH /enrollment-profiles/{id}: only the validity can change (a fresh token)."""

    validityDays = _validity_days()


class TokenSchema(Schema):
    """The profile's AMAPI enrollment token."""

    name = fields.String()
    value = fields.String()
    createTime = fields.String()
    expireTime = fields.String()


class QrImageSchema(Schema):
    """Where the QR images are."""

    png = fields.String()
    svg = fields.String()


class EnrollmentProfileSchema(Schema):
    """An enrollment profile (the summary)."""

    id = fields.String()
    name = fields.String()
    description = fields.String()
    userName = fields.String()
    space = fields.String()
    validityDays = fields.Integer()
    oneTimeOnly = fields.Boolean()
    status = fields.String(validate=validate.OneOf(PROFILE_STATUSES))
    customAttributes = fields.List(fields.Nested(CustomAttributeValueSchema))
    token = fields.Nested(TokenSchema)
    qrCode = fields.String(metadata={"description": "AMAPI provisioning JSON; the QR's text"})
    qrImage = fields.Nested(QrImageSchema)
    enrolledDevices = fields.Integer()
    createTime = fields.String()
    updateTime = fields.String()
    etag = fields.String()


class EnrollmentProfileListSchema(Schema):
    """GET /enrollment-profiles."""

    enrollmentProfiles = fields.List(fields.Nested(EnrollmentProfileSchema))
    nextPageToken = fields.String()


class ProfileQuerySchema(SpaceListQuerySchema):
    """Query of GET /enrollment-profiles."""

    status = query_enum(PROFILE_STATUSES, "only profiles in this status")


class AllowlistSchema(Schema):
    """Serial numbers and IMEIs allowed to enroll, when enabled."""

    enabled = StrictBoolean(load_default=False)
    serialNumbers = fields.List(
        fields.String(validate=validate.Length(min=1, max=64)), load_default=list,
        validate=validate.Length(max=MAX_ALLOWLIST_ENTRIES))
    imeis = fields.List(
        fields.String(validate=validate.Regexp(r"^\d{14,16}\Z", error="must be 14-16 digits")),
        load_default=list, validate=validate.Length(max=MAX_ALLOWLIST_ENTRIES))


class EnrollmentRulesWriteSchema(Schema):
    """PUT /enrollment-rules."""

    space = _space_field()
    allowlist = fields.Nested(AllowlistSchema, load_default=lambda: AllowlistSchema().load({}))
    manufacturers = fields.List(fields.String(validate=validate.Length(min=1, max=100)),
                                load_default=list, validate=validate.Length(max=200))
    minAndroidVersion = fields.String(
        allow_none=True, load_default=None, validate=validate.Regexp(
            r"^\d{1,2}(\.\d{1,2}){0,2}\Z", error="must be an Android version such as 11 or 12.1"))
    minSecurityPatchLevel = fields.String(allow_none=True, load_default=None,
                                          validate=calendar_date)
    action = fields.String(load_default="WIPE", validate=validate.OneOf(["WIPE", "DISABLE"]))


class EnrollmentRulesSchema(EnrollmentRulesWriteSchema):
    """The enrollment rules of a space."""

    updateTime = fields.String()
    etag = fields.String()


class RulesQuerySchema(QuerySchema):
    """Query of GET /enrollment-rules."""

    space = space_param(default=GLOBAL)


class ExpireTokensRequestSchema(Schema):
    """POST /expire-tokens/ (scheduled)."""

    now = fields.AwareDateTime(metadata={
        "description": "emulators only: the moment to expire tokens as of"})


class ExpireTokensResultSchema(Schema):
    """What a run of expire_tokens did."""

    expired = fields.Integer()
    revoked = fields.Integer()
    deferred = fields.Integer(metadata={"description": "revocations left for the next run: "
                                                       "AMAPI throttled it or its time ran out"})


TOPIC = re.compile(
    r"^projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/topics/[A-Za-z][A-Za-z0-9._~%+-]{2,254}\Z")
BINDABLE_NOTIFICATIONS = ["ENROLLMENT", "STATUS_REPORT", "COMMAND", "USAGE_LOGS"]


class EnterpriseSignupSchema(Schema):
    """POST /enterprise:signup."""

    callbackUrl = fields.Url(required=True, schemes={"https", "http"})
    adminEmail = fields.Email()


class EnterpriseCompleteSchema(Schema):
    """POST /enterprise:complete."""

    signupUrlName = fields.String(required=True, validate=validate.Regexp(
        r"^signupUrls/[A-Za-z0-9_-]{1,200}\Z", error="must be signupUrls/<id>"))
    enterpriseToken = fields.String(required=True, validate=validate.Length(min=1, max=500))
    displayName = fields.String(validate=validate.Length(min=1, max=100))


class EnterprisePatchSchema(Schema):
    """PATCH /enterprise: re-wire notifications."""

    pubsubTopic = fields.String(validate=validate.Regexp(
        TOPIC, error="must be projects/<project>/topics/<topic>"))
    enabledNotificationTypes = fields.List(
        fields.String(validate=validate.OneOf(BINDABLE_NOTIFICATIONS)),
        validate=validate.Length(min=1))

    @validates_schema
    def _something_to_change(self, data: dict[str, Any], **_: Any) -> None:
        if not data:
            raise ValidationError("give pubsubTopic or enabledNotificationTypes")


class SignupSchema(Schema):
    """A started signup."""

    name = fields.String()
    signupUrl = fields.String()


class EnterpriseSchema(Schema):
    """The bound enterprise."""

    name = fields.String()
    displayName = fields.String()
    amapiEnabled = fields.Boolean()
    pubsubTopic = fields.String()
    enabledNotificationTypes = fields.List(fields.String())
    bindTime = fields.String()
