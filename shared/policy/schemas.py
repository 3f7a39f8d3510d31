"""Request and response schemas of the policy function (the OpenAPI document is built from them).

Loaded create bodies always carry every field that has a default, so the compiler never guesses:
a COSU configuration loaded here has the full `lockdown`, `kiosk` and `systemUpdate` objects.

A PATCH body is a JSON merge patch (RFC 7396, `MERGE_PATCH`): it is merged into the stored
resource and the result is loaded through the create schema, which fills the defaults of what
the patch removed with `null`. The PATCH schemas describe the body in the OpenAPI document.
Create schemas read a `null` on an optional field without default as "not set". Immutable
fields are refused by name. Cross-field rules that need the stored resource (a Wi-Fi passphrase
against its security) hold on the merged result.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar

from marshmallow import (
    Schema,
    ValidationError,
    fields,
    missing,
    pre_dump,
    pre_load,
    types,
    validate,
    validates_schema,
)

from shared.access.space_params import SpaceChangeQuerySchema, SpaceListQuerySchema
from shared.access.spaces import GLOBAL, SPACE_ID, SPACE_ID_RULE
from shared.policy.freeze_periods import (
    MAX_LENGTH_DAYS,
    MIN_SEPARATION_DAYS,
    parse_month_day,
    validate_freeze_periods,
)
from shared.query_params import QueryBoolean, QueryText, ValidateOnlyQuerySchema
from shared.schema_fields import StrictBoolean, calendar_date

# \Z rather than $: `$` would let a trailing newline through.
PACKAGE_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]*(\.[a-zA-Z][a-zA-Z0-9_]*)+\Z")
PACKAGE_NAME_RULE = ("must be an Android package name such as com.example.app (dot-separated "
                     "segments of letters, digits and _, each starting with a letter)")
MAX_PACKAGE_NAME = 255
HEX = re.compile(r"[0-9A-Fa-f]+")

APP_TYPES = ("PUBLIC", "PRIVATE", "IN_HOUSE", "WEB_CLIP")
AMAPI_APP_TYPES = ("PUBLIC", "PRIVATE")  # the only catalog apps AMAPI devices ever receive
AUTO_UPDATE_MODES = ("DEFAULT", "POSTPONED", "HIGH_PRIORITY")
NETWORK_CONSTRAINTS = ("ANY", "UNMETERED")
DISTRIBUTION_MODES = ("ALL", "NONE", "CUSTOM")
DISTRIBUTION_TARGETS = ("deviceIds", "labels", "userNames")
WIFI_SECURITIES = ("NONE", "WEP_PSK", "WPA_PSK", "WPA_EAP")
EAP_OUTER_METHODS = ("PEAP", "TTLS", "EAP-TLS")
EAP_INNER_METHODS = ("MSCHAPv2", "PAP", "Automatic")
PLUGGED_MODES = ("AC", "USB", "WIRELESS")
STATUS_BAR_MODES = ("NOTIFICATIONS_AND_SYSTEM_INFO", "SYSTEM_INFO_ONLY", "HIDDEN")
NAVIGATION_MODES = ("ENABLED", "DISABLED", "HOME_ONLY")
SYSTEM_UPDATE_TYPES = ("AUTOMATIC", "POSTPONE", "WINDOWED", "RULES")
APP_ROLES = ("KIOSK", "COMPANION_APP")
BRIGHTNESS_MODES = ("USER_CHOICE", "AUTOMATIC", "FIXED")
USB_DATA_ACCESS = ("ALLOWED", "NO_FILE_TRANSFER", "DISALLOWED")
WIFI_CONFIGURATION = ("ALLOWED", "NO_ADD", "LOCKED")
TETHERING = ("ALLOWED", "NO_WIFI", "DISALLOWED")
AIRPLANE_MODE = ("USER_CHOICE", "DISABLED")
WIFI_STATES = ("USER_CHOICE", "ENABLED", "DISABLED")
WIFI_SECURITY_LEVELS = ("OPEN", "PERSONAL", "ENTERPRISE", "ENTERPRISE_192")
PRIVATE_DNS_MODES = ("USER_CHOICE", "AUTOMATIC", "HOST")
UPDATE_TARGETS = ("GOOGLE_PLAY_SYSTEM_UPDATE", "GOOGLE_SYSTEM_SERVICES",
                  "OS_UPDATE_WITHOUT_API_LEVEL_CHANGE", "OS_UPDATE_WITH_API_LEVEL_CHANGE")
OS_UPDATE_TARGETS = UPDATE_TARGETS[2:]
UPDATE_OUTCOMES = ("FORCE", "USER_PROMPT", "BLOCK")
UPDATE_STAGES = ("DOWNLOAD", "APPLY")
DAYS_OF_WEEK = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
FEEDBACK_SEVERITIES = ("INFO", "ERROR")

MAX_TARGETS = 1000
MAX_DELEGATED_SPACES = 100
MAX_TRACK_IDS = 50
MAX_MANAGED_CONFIGURATION_BYTES = 256 * 1024
# Firestore nests maps and arrays at most 20 deep below a document's field, and a pushed policy's
# record keeps the configuration at policy.applications[i].managedConfiguration, 3 levels down:
# so a managed configuration (itself level 1) nests objects and arrays at most 17 levels deep.
MAX_MANAGED_CONFIGURATION_DEPTH = 17
MAX_PRIORITY = 1_000_000
MAX_INSTALL_PRIORITY = 10_000  # AMAPI: 1 is installed first, 0 has no priority
MAX_BRIGHTNESS = 255
MAX_SCREEN_TIMEOUT_SECONDS = 24 * 3600
MAX_ALLOWED_SSIDS = 100
MAX_KIOSK_APPS = 100
MAX_UPDATE_RULES = 100  # AMAPI's unifiedUpdatePolicy limit
MAX_RULE_ID = 64
# A host name as Android's private DNS accepts it: dot-separated labels of letters, digits and
# hyphens, no label starting or ending with a hyphen, and a top-level label that is not numeric.
HOST_NAME = re.compile(
    r"^(?=.{1,253}\Z)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\Z")
MAX_VERSION_CODE = 2**31 - 1  # AMAPI's minimumVersionCode is an int32
LAST_MINUTE_OF_DAY = 24 * 60 - 1
# Each period lasts at least a day and is followed by at least 60 free days.
MAX_FREEZE_PERIODS = 365 // (MIN_SEPARATION_DAYS + 1)

IMMUTABLE_APP_FIELDS = ("packageName", "type", "space", "id", "createTime", "updateTime",
                        "etag")
IMMUTABLE_WIFI_FIELDS = ("space", "id", "hasPassphrase", "createTime", "updateTime", "etag")
IMMUTABLE_VPN_FIELDS = ("space", "id", "createTime", "updateTime", "etag")
IMMUTABLE_COSU_FIELDS = ("space", "id", "policyName", "createTime", "updateTime", "etag")


MERGE_PATCH = (
    "A JSON merge patch (RFC 7396): the fields given replace the stored ones and nested "
    "objects are merged field by field, so `{\"lockdown\": {\"disableKeyguard\": true}}` "
    "changes that setting alone; `null` removes a field (back to its default where it has "
    "one); arrays are replaced whole. A new `distribution.mode`, `systemUpdate.type` or "
    "`privateDns.mode` (or Wi-Fi `security`) drops the stored settings of the old one "
    "(targets, window, host, secrets) unless the patch gives them. A masked secret sent back "
    "as it was read keeps the stored secret.")
MAX_SECRET_KEYS = 100


def _one_of(choices: Sequence[str]) -> validate.OneOf:
    return validate.OneOf(choices, error="must be one of " + ", ".join(choices))


def _space_field() -> fields.String:
    return fields.String(load_default=GLOBAL,
                         validate=validate.Regexp(SPACE_ID, error=SPACE_ID_RULE))


def _package_name_field(**options: Any) -> fields.String:
    return fields.String(validate=[
        validate.Length(max=MAX_PACKAGE_NAME,
                        error=f"must be at most {MAX_PACKAGE_NAME} characters"),
        validate.Regexp(PACKAGE_NAME, error=PACKAGE_NAME_RULE)], **options)


def _name_field() -> fields.String:
    return fields.String(required=True, validate=validate.Length(
        min=1, max=100, error="must be 1-100 characters"))


def _defaults_of(schema: type[Schema]) -> Callable[[], Any]:
    """A load_default that is the nested object with every default filled in."""
    return lambda: schema().load({})


def _managed_configuration_shape(value: Any, path: str = "") -> str | None:
    """Why a managed configuration cannot be an app's managed properties (or stored), or None.

    Property keys are non-empty; a value is a string, number, boolean, bundle (object) or a
    bundle array, so a list directly inside a list is never one.
    """
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or not key.strip():
                return f"{path or 'a'} property has an empty key"
            problem = _managed_configuration_shape(item, f"{path}.{key}" if path else key)
            if problem:
                return problem
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, list):
                return f"{path}[{index}] is a list inside a list"
            problem = _managed_configuration_shape(item, f"{path}[{index}]")
            if problem:
                return problem
    return None


def _too_deep(value: Any) -> list[str | int] | None:
    """Where an object or array nests deeper than `MAX_MANAGED_CONFIGURATION_DEPTH`, or None."""
    pending: list[tuple[Any, list[str | int]]] = [(value, [])]
    while pending:
        item, where = pending.pop()
        if isinstance(item, dict | list):
            if len(where) >= MAX_MANAGED_CONFIGURATION_DEPTH:
                return where
            children = item.items() if isinstance(item, dict) else enumerate(item)
            pending.extend((child, [*where, key]) for key, child in children)
    return None


def _managed_configuration_size(value: Mapping[str, Any]) -> None:
    size = len(json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass"))
    if size > MAX_MANAGED_CONFIGURATION_BYTES:
        raise ValidationError(
            f"is {size} bytes of JSON; at most {MAX_MANAGED_CONFIGURATION_BYTES} are accepted")
    where = _too_deep(value)
    if where is not None:
        # Messages nested by key name the place: `managedConfiguration.a.b`.
        message: Any = [f"nests objects and arrays more than {MAX_MANAGED_CONFIGURATION_DEPTH} "
                        "levels deep (the configuration itself is level 1; Firestore's limit)"]
        for key in reversed(where):
            message = {key: message}
        raise ValidationError(message)
    problem = _managed_configuration_shape(value)
    if problem:
        raise ValidationError(problem)


def _managed_configuration_field() -> fields.Dict:
    return fields.Dict(keys=fields.String(), validate=_managed_configuration_size, metadata={
        "description": "the app's managed configuration: keys are its managed properties "
                       "(OEMConfig apps are configured this way too); objects and arrays nest "
                       f"at most {MAX_MANAGED_CONFIGURATION_DEPTH} levels deep, the "
                       "configuration itself being level 1"})


def _duplicate_errors(values: Iterable[Any]) -> dict[int, list[str]]:
    seen: set[Any] = set()
    errors: dict[int, list[str]] = {}
    for index, value in enumerate(values):
        if value in seen:
            errors[index] = [f"duplicates {value!r}"]
        seen.add(value)
    return errors


def _refuse_duplicates(data: Mapping[str, Any], *names: str) -> None:
    errors: dict[str, Any] = {}
    for name in names:
        duplicates = _duplicate_errors(data.get(name) or ())
        if duplicates:
            errors[name] = duplicates
    if errors:
        raise ValidationError(errors)


def _delegated_spaces_field() -> fields.List[str]:
    return fields.List(
        fields.String(validate=validate.Regexp(SPACE_ID, error=SPACE_ID_RULE)),
        load_default=list,
        validate=validate.Length(max=MAX_DELEGATED_SPACES,
                                 error=f"must list at most {MAX_DELEGATED_SPACES} spaces"),
        metadata={"description": "child spaces whose devices this also applies to"})


def _optional_without_default(field: fields.Field[Any]) -> bool:
    return field.load_default is missing and not field.required


class _ResourceSchema(Schema):
    """Base of create bodies: `null` on an optional field without default means "not set"."""

    keeps_nulls: ClassVar[bool] = False

    @pre_load
    def _null_means_not_set(self, data: Any, **_: Any) -> Any:
        if self.keeps_nulls or not isinstance(data, Mapping):
            return data
        return {key: value for key, value in data.items()
                if not (value is None and key in self.load_fields
                        and _optional_without_default(self.load_fields[key]))}


class _PatchSchema(_ResourceSchema):
    """Base of PATCH bodies: every top-level field optional; omitted fields stay untouched."""

    keeps_nulls = True  # null is how a patch clears an optional field
    immutable_fields: ClassVar[tuple[str, ...]] = ()
    rollout = fields.Nested(lambda: RolloutPlanSchema(), metadata={
        "description": "stage this change (not part of the resource): pushed to a few devices "
                       "first, stage by stage behind health gates (see the rollouts)"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            # null clears an optional field; a field with a default can only get a new value.
            field.allow_none = _optional_without_default(field)
            field.required = False
            field.load_default = missing

    def load(self, data: Mapping[str, Any] | Sequence[Mapping[str, Any]], *,
             many: bool | None = None, partial: bool | types.StrSequenceOrSet | None = None,
             unknown: types.UnknownOption | None = None) -> Any:
        """Load a PATCH body; `partial` is ignored, as every top-level field is optional."""
        # partial=True would reach nested objects too and skip the defaults of an object that
        # replaces the stored one whole.
        return super().load(data, many=many, unknown=unknown)

    @pre_load
    def _refuse_immutable_fields(self, data: Any, **_: Any) -> Any:
        if isinstance(data, Mapping):
            given = [name for name in data if name in self.immutable_fields]
            if given:
                raise ValidationError({name: ["is immutable and cannot be changed"]
                                       for name in given})
        return data


# --- Rollouts ---------------------------------------------------------------------------------

ROLLOUT_STATES = ("PENDING", "RUNNING", "PAUSED", "SUCCEEDED", "FAILED", "CANCELLED",
                  "ROLLED_BACK")


class RolloutTriggerSchema(Schema):
    """The change a rollout pushes."""

    kind = fields.String(metadata={"enum": ["COSU_CONFIG", "APP", "WIFI", "VPN"]})
    id = fields.String()
    etag = fields.String(metadata={"description": "the version of the resource stored"})


class RolloutTotalsSchema(Schema):
    """What a rollout has to do."""

    devices = fields.Integer(metadata={"description": "devices to move"})
    policies = fields.Integer(metadata={"description": "policies to create or patch"})


class RolloutDoneSchema(Schema):
    """What a rollout has done so far."""

    moved = fields.Integer()
    patched = fields.Integer()
    skipped = fields.Integer(metadata={"description": "devices deleted meanwhile, or already "
                                                      "where the change puts them"})
    failed = fields.Integer()


class RolloutFailureSchema(Schema):
    """A device a rollout could not move."""

    deviceId = fields.String()
    reason = fields.String()


class PlanSummarySchema(Schema):
    """The AMAPI calls a change would make."""

    policiesPatched = fields.Integer(metadata={"description": "policies created or patched"})
    devicesMoved = fields.Integer()
    amapiCalls = fields.Integer()
    rollout = fields.Boolean(metadata={"description": "true when a rollout would push it (over "
                                                      "the inline limit, or staged)"})
    sampleDevices = fields.List(fields.String(), metadata={
        "description": "the first devices it would move (ids)"})


class PolicyFieldChangeSchema(Schema):
    """One field of one AMAPI policy a change would change (secrets masked)."""

    policy = fields.String(metadata={"description": "the AMAPI policy; `new-1`, `new-2`… for "
                                                    "those the change would create"})
    field = fields.String(metadata={"description": "dotted path; lists compare whole"})
    before = fields.Raw(allow_none=True)
    after = fields.Raw(allow_none=True)


class FindingSchema(Schema):
    """What the kiosk linter found in a COSU configuration."""

    code = fields.String()
    severity = fields.String(metadata={"enum": ["ERROR", "WARNING", "INFO"]})
    field = fields.String()
    message = fields.String()
    fix = fields.String()


class FindingsSchema(Schema):
    """GET /cosu-configs/{id}/lint."""

    findings = fields.List(fields.Nested(FindingSchema))


def _strict_param() -> QueryBoolean:
    return QueryBoolean(metadata={"description": "true: refuse (400) a change the kiosk linter "
                                                 "finds an ERROR in"})


class CosuCreateQuerySchema(ValidateOnlyQuerySchema):
    """POST /cosu-configs."""

    strict = _strict_param()


class CosuChangeQuerySchema(SpaceChangeQuerySchema):
    """PATCH and DELETE /cosu-configs/{id}."""

    strict = _strict_param()


class ChangePreviewSchema(Schema):
    """`?validateOnly=true`: what the change would do; nothing stored, no AMAPI call."""

    plan = fields.Nested(PlanSummarySchema)
    diff = fields.List(fields.Nested(PolicyFieldChangeSchema))
    findings = fields.List(fields.Nested(FindingSchema), metadata={
        "description": "the kiosk linter's, for a COSU configuration"})


class StageSchema(Schema):
    """One stage of a staged rollout: a share of the affected devices, or named devices."""

    percent = fields.Float(validate=validate.Range(min=0, max=100, min_inclusive=False),
                           metadata={"description": "share of the affected devices, counted "
                                                    "in each group of devices with the same "
                                                    "inputs (cumulative: 5, 25, 100)"})
    deviceIds = fields.List(fields.String(validate=validate.Length(min=1, max=200)),
                            validate=validate.Length(min=1, max=500),
                            metadata={"description": "hand-picked devices (ids or names)"})

    @validates_schema
    def one_target(self, data: dict[str, Any], **_: Any) -> None:
        """Exactly one of `percent` and `deviceIds`."""
        if ("percent" in data) == ("deviceIds" in data):
            raise ValidationError('give exactly one of "percent" or "deviceIds"')


class GateSchema(Schema):
    """What a stage's devices must report after its soak for the next stage to start."""

    soakSeconds = fields.Integer(validate=validate.Range(min=0, max=14 * 86400), metadata={
        "description": "how long a stage runs before its gate is read (default 1800)"})
    minAppliedPercent = fields.Float(validate=validate.Range(min=0, max=100), metadata={
        "description": "share of the stage's devices that must report the new policy "
                       "version applied (default 95)"})
    maxNonCompliantPercent = fields.Float(validate=validate.Range(min=0, max=100), metadata={
        "description": "largest share reporting non-compliance on it (default 2)"})
    maxAppErrorDevices = fields.Integer(validate=validate.Range(min=0), metadata={
        "description": "most devices whose pinned app reports an ERROR keyed app state "
                       "since the stage started (default 0)"})


class RolloutPlanSchema(Schema):
    """The `rollout` field of a change: stage it, whatever its size."""

    stages = fields.List(fields.Nested(StageSchema), required=True,
                         validate=validate.Length(min=1, max=10))
    gate = fields.Nested(GateSchema, load_default=dict)
    autoRollback = StrictBoolean(load_default=True, metadata={
        "description": "roll every device back when a gate fails (else pause for an "
                       "administrator)"})

    @validates_schema
    def growing(self, data: dict[str, Any], **_: Any) -> None:
        """Shares grow from stage to stage."""
        shares = [s["percent"] for s in data.get("stages") or [] if "percent" in s]
        if any(b <= a for a, b in itertools.pairwise(shares)):
            raise ValidationError({"stages": ["each percent stage must reach more devices "
                                              "than the one before (5, 25, 100)"]})


class StageStatusSchema(Schema):
    """A stage as a staged rollout shows it."""

    percent = fields.Float()
    deviceIds = fields.List(fields.String())
    state = fields.String(metadata={"enum": ["PENDING", "PUSHING", "SOAKING", "PASSED",
                                             "FAILED", "PROMOTED", "ROLLED_BACK"]})
    devices = fields.Integer(metadata={"description": "devices on the staged change"})
    appliedPercent = fields.Float()
    nonCompliantPercent = fields.Float()
    appErrorDevices = fields.Integer()
    startTime = fields.String(allow_none=True)
    endTime = fields.String(allow_none=True)


class GateFailureSchema(Schema):
    """Which stage failed its gate, and why."""

    stage = fields.Integer()
    reasons = fields.List(fields.String())


class RolloutSchema(Schema):
    """A configuration change pushed in the background, batch by batch."""

    id = fields.String()
    space = fields.String()
    trigger = fields.Nested(RolloutTriggerSchema)
    state = fields.String(metadata={"enum": list(ROLLOUT_STATES)})
    totals = fields.Nested(RolloutTotalsSchema)
    done = fields.Nested(RolloutDoneSchema)
    percent = fields.Integer()
    etaSeconds = fields.Integer(allow_none=True)
    failures = fields.List(fields.Nested(RolloutFailureSchema))
    supersededBy = fields.String(metadata={
        "description": "the newer rollout of the same space that took over the rest"})
    message = fields.String()
    createTime = fields.String()
    updateTime = fields.String()
    startTime = fields.String()
    endTime = fields.String()
    stages = fields.List(fields.Nested(StageStatusSchema), metadata={
        "description": "staged rollouts only"})
    currentStage = fields.Integer(metadata={"description": "1-based"})
    phase = fields.String(metadata={"enum": ["STAGING", "PROMOTING", "ROLLING_BACK"]})
    gate = fields.Nested(GateSchema)
    autoRollback = fields.Boolean()
    gateTime = fields.String(metadata={"description": "when the current stage's gate is read"})
    gateFailure = fields.Nested(GateFailureSchema)


class RolloutListSchema(Schema):
    """GET /rollouts."""

    rollouts = fields.List(fields.Nested(RolloutSchema))
    nextPageToken = fields.String()


class RolloutAcceptedSchema(Schema):
    """A deletion answered 202: the rollout pushing it."""

    rollout = fields.Nested(RolloutSchema)


class RolloutQuerySchema(SpaceListQuerySchema):
    """Query of GET /rollouts."""

    state = QueryText(validate=[validate.OneOf(ROLLOUT_STATES)],
                      metadata={"description": "only rollouts in this state"})


class _Stored(Schema):
    """What every stored configuration resource carries when returned."""

    id = fields.String()
    createTime = fields.String()
    updateTime = fields.String()
    etag = fields.String()
    delegated = fields.Boolean(metadata={
        "description": "true when the caller sees it only because it is delegated to one of "
                       "the caller's spaces"})
    rollout = fields.Nested(RolloutSchema, metadata={
        "description": "on a 202 reply: the rollout pushing this change in the background"})
    pendingChange = fields.Dict(metadata={
        "description": "a change a staged rollout is pushing: `rolloutId`, and `staged`, the "
                       "resource as it will be once promoted"})


class DistributionSchema(Schema):
    """Which devices receive a resource: all, none, or the listed devices, labels and users."""

    mode = fields.String(load_default="NONE", validate=_one_of(DISTRIBUTION_MODES))
    deviceIds = fields.List(fields.String(validate=validate.Length(min=1, max=128)),
                            load_default=list, validate=validate.Length(max=MAX_TARGETS))
    labels = fields.List(fields.String(validate=validate.Length(min=1, max=128)),
                         load_default=list, validate=validate.Length(max=MAX_TARGETS))
    userNames = fields.List(fields.String(validate=validate.Length(min=1, max=64)),
                            load_default=list, validate=validate.Length(max=MAX_TARGETS))

    @validates_schema
    def _targets_fit_the_mode(self, data: dict[str, Any], **_: Any) -> None:
        mode = data["mode"]
        given = [name for name in DISTRIBUTION_TARGETS if data.get(name)]
        if mode == "CUSTOM" and not given:
            raise ValidationError({"mode": [
                "CUSTOM needs at least one of deviceIds, labels or userNames"]})
        if mode != "CUSTOM" and given:
            raise ValidationError({name: [f"only allowed when mode is CUSTOM, not {mode}"]
                                   for name in given})
        _refuse_duplicates(data, *DISTRIBUTION_TARGETS)


def _distribution_field() -> fields.Nested:
    return fields.Nested(DistributionSchema, load_default=_defaults_of(DistributionSchema))


# --- App catalog -------------------------------------------------------------------------------

class InstallConstraintSchema(Schema):
    """When a force-installed app may be installed or updated."""

    network = fields.String(load_default="ANY", validate=_one_of(NETWORK_CONSTRAINTS))
    charging = StrictBoolean(load_default=False)
    idle = StrictBoolean(load_default=False)


class AppCreateSchema(_ResourceSchema):
    """POST /apps: a catalog app. Only PUBLIC and PRIVATE apps ever reach AMAPI devices."""

    packageName = _package_name_field(required=True)
    title = fields.String(validate=validate.Length(min=1, max=255,
                                                   error="must be 1-255 characters"))
    type = fields.String(required=True, validate=_one_of(APP_TYPES))
    installOnDevice = StrictBoolean(load_default=False)
    silentInstall = StrictBoolean(load_default=False)
    managedConfiguration = _managed_configuration_field()
    autoUpdateMode = fields.String(validate=_one_of(AUTO_UPDATE_MODES))
    minimumVersionCode = fields.Integer(strict=True, validate=validate.Range(
        min=1, max=MAX_VERSION_CODE, error=f"must be an integer between 1 and {MAX_VERSION_CODE}"))
    trackIds = fields.List(fields.String(validate=validate.Length(min=1, max=100)),
                           validate=validate.Length(max=MAX_TRACK_IDS,
                                                    error=f"must list at most {MAX_TRACK_IDS}"))
    installConstraint = fields.Nested(InstallConstraintSchema)
    installPriority = fields.Integer(strict=True, validate=validate.Range(
        min=0, max=MAX_INSTALL_PRIORITY,
        error=f"must be an integer between 0 and {MAX_INSTALL_PRIORITY}"), metadata={
        "description": "among force-installed apps, 1 installs first; 0 has no priority"})
    roles = fields.List(fields.String(validate=_one_of(APP_ROLES)), metadata={
        "description": "AMAPI app roles the app holds wherever it is installed: KIOSK makes it "
                       "a device's pinned app (installed during setup), COMPANION_APP lets it "
                       "talk to Android Device Policy offline. One app per device may hold "
                       "each role"})
    secretKeys = fields.List(
        fields.String(validate=validate.Length(min=1, max=255)),
        validate=validate.Length(max=MAX_SECRET_KEYS,
                                 error=f"must list at most {MAX_SECRET_KEYS} keys"),
        metadata={"description": "managed-configuration keys whose values are secrets: "
                                 "write-only, masked in every response. Keys named like "
                                 "password, passwd, secret, token, apikey or key (also as a "
                                 "last word: vpnPassword, api_key) are secrets anyway"})
    distribution = _distribution_field()
    delegatedSpaces = _delegated_spaces_field()
    space = _space_field()

    @validates_schema
    def _lists_have_no_duplicates(self, data: dict[str, Any], **_: Any) -> None:
        _refuse_duplicates(data, "trackIds", "delegatedSpaces", "secretKeys", "roles")


class AppPatchSchema(_PatchSchema, AppCreateSchema):
    """PATCH /apps/{packageName}."""

    immutable_fields = IMMUTABLE_APP_FIELDS

    class Meta:
        description = MERGE_PATCH
        exclude = ("packageName", "type", "space")


class AppSchema(_Stored, AppCreateSchema):
    """A catalog app."""


class AppListSchema(Schema):
    """GET /apps."""

    apps = fields.List(fields.Nested(AppSchema))
    nextPageToken = fields.String()


class SeverityCountsSchema(Schema):
    """How many keyed app states have each severity."""

    ERROR = fields.Integer()
    INFO = fields.Integer()


class KeyedAppStateSchema(Schema):
    """One keyed app state an app reported on one device."""

    deviceId = fields.String()
    key = fields.String()
    severity = fields.String(validate=_one_of(FEEDBACK_SEVERITIES))
    message = fields.String()
    data = fields.String()
    lastUpdateTime = fields.String()


class AppFeedbackSchema(Schema):
    """GET /apps/{packageName}/feedback: keyed app states aggregated over devices."""

    packageName = fields.String()
    devicesReporting = fields.Integer()
    bySeverity = fields.Nested(SeverityCountsSchema)
    states = fields.List(fields.Nested(KeyedAppStateSchema))


# --- Wi-Fi -------------------------------------------------------------------------------------

def _ssid(value: str) -> None:
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise ValidationError("must be valid Unicode") from None
    if not 1 <= size <= 32:
        raise ValidationError("must be 1-32 bytes in UTF-8")


def _printable_ascii(value: str) -> bool:
    return all(" " <= char <= "~" for char in value)


def _is_hex(value: str, *lengths: int) -> bool:
    return len(value) in lengths and HEX.fullmatch(value) is not None


def _passphrase_problem(security: str, passphrase: str) -> str | None:
    if security == "WPA_PSK":
        if _is_hex(passphrase, 64) or (8 <= len(passphrase) <= 63
                                       and _printable_ascii(passphrase)):
            return None
        return "must be 8-63 printable ASCII characters, or 64 hexadecimal digits"
    if security == "WEP_PSK":
        if _is_hex(passphrase, 10, 26) or (len(passphrase) in (5, 13)
                                           and _printable_ascii(passphrase)):
            return None
        return "must be 5 or 13 printable ASCII characters, or 10 or 26 hexadecimal digits"
    return None


def wifi_security_errors(config: Mapping[str, Any]) -> dict[str, list[str]]:
    """Field → reasons where a Wi-Fi configuration's secrets do not fit its security."""
    security = config.get("security")
    passphrase = config.get("passphrase")
    eap = config.get("eap")
    errors: dict[str, list[str]] = {}
    if security in ("WEP_PSK", "WPA_PSK"):
        if passphrase is None:
            errors["passphrase"] = [f"is required when security is {security}"]
        else:
            problem = _passphrase_problem(security, passphrase)
            if problem:
                errors["passphrase"] = [problem]
    elif passphrase is not None:
        hint = "; the EAP password goes in eap.password" if security == "WPA_EAP" else ""
        errors["passphrase"] = [f"must not be set when security is {security}{hint}"]
    if security == "WPA_EAP" and eap is None:
        errors["eap"] = ["is required when security is WPA_EAP"]
    elif security != "WPA_EAP" and eap is not None:
        errors["eap"] = ["is only allowed when security is WPA_EAP"]
    return errors


class EapSchema(Schema):
    """802.1X settings of a WPA_EAP network."""

    outer = fields.String(required=True, validate=_one_of(EAP_OUTER_METHODS))
    inner = fields.String(validate=_one_of(EAP_INNER_METHODS))
    identity = fields.String(validate=validate.Length(min=1, max=255))
    password = fields.String(load_only=True, validate=validate.Length(min=1, max=255),
                             metadata={"description": "write-only"})

    @validates_schema
    def _inner_needs_a_tunnel(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("inner") is not None and data["outer"] == "EAP-TLS":
            raise ValidationError({"inner": ["is not used with EAP-TLS"]})


class WifiConfigCreateSchema(_ResourceSchema):
    """POST /wifi-configs. The passphrase and EAP password are write-only."""

    checks_secrets: ClassVar[bool] = True

    name = _name_field()
    ssid = fields.String(required=True, validate=_ssid)
    security = fields.String(required=True, validate=_one_of(WIFI_SECURITIES))
    passphrase = fields.String(load_only=True, metadata={"description": "write-only"})
    hiddenSsid = StrictBoolean(load_default=False)
    autoConnect = StrictBoolean(load_default=True)
    eap = fields.Nested(EapSchema)
    distribution = _distribution_field()
    delegatedSpaces = _delegated_spaces_field()
    space = _space_field()

    @validates_schema
    def _secrets_fit_the_security(self, data: dict[str, Any], **_: Any) -> None:
        errors = wifi_security_errors(data) if self.checks_secrets else {}
        if errors:
            raise ValidationError(errors)

    @validates_schema
    def _lists_have_no_duplicates(self, data: dict[str, Any], **_: Any) -> None:
        _refuse_duplicates(data, "delegatedSpaces")


class WifiConfigPatchSchema(_PatchSchema, WifiConfigCreateSchema):
    """PATCH /wifi-configs/{id}; check `wifi_security_errors` on the merged configuration."""

    # A patch may change the passphrase alone: only the merge with the stored one can tell.
    checks_secrets = False
    immutable_fields = IMMUTABLE_WIFI_FIELDS

    class Meta:
        description = MERGE_PATCH
        exclude = ("space",)


class EapPublicSchema(Schema):
    """802.1X settings as returned: the password never is."""

    outer = fields.String()
    inner = fields.String()
    identity = fields.String()
    hasPassword = fields.Boolean()


class WifiConfigSchema(_Stored):
    """A Wi-Fi configuration as returned: no passphrase, only whether one is set."""

    name = fields.String()
    ssid = fields.String()
    security = fields.String()
    hasPassphrase = fields.Boolean()
    hiddenSsid = fields.Boolean()
    autoConnect = fields.Boolean()
    eap = fields.Nested(EapPublicSchema)
    distribution = fields.Nested(DistributionSchema)
    delegatedSpaces = fields.List(fields.String())
    space = fields.String()

    @pre_dump
    def _replace_secrets_by_flags(self, config: Mapping[str, Any], **_: Any) -> dict[str, Any]:
        shown = {key: value for key, value in config.items() if key != "passphrase"}
        if "passphrase" in config:
            shown["hasPassphrase"] = config["passphrase"] is not None
        shown.setdefault("hasPassphrase", False)
        eap = config.get("eap")
        if isinstance(eap, Mapping):
            shown["eap"] = {key: value for key, value in eap.items() if key != "password"}
            if "password" in eap:
                shown["eap"]["hasPassword"] = eap["password"] is not None
            shown["eap"].setdefault("hasPassword", False)
        return shown


class WifiConfigListSchema(Schema):
    """GET /wifi-configs."""

    wifiConfigs = fields.List(fields.Nested(WifiConfigSchema))
    nextPageToken = fields.String()


# --- Always-on VPN -----------------------------------------------------------------------------

class VpnConfigCreateSchema(_ResourceSchema):
    """POST /vpn-configs: an always-on VPN app (in the catalog) and its managed configuration."""

    name = _name_field()
    packageName = _package_name_field(required=True)
    lockdownEnabled = StrictBoolean(load_default=False)
    managedConfiguration = _managed_configuration_field()
    distribution = _distribution_field()
    delegatedSpaces = _delegated_spaces_field()
    space = _space_field()

    @validates_schema
    def _lists_have_no_duplicates(self, data: dict[str, Any], **_: Any) -> None:
        _refuse_duplicates(data, "delegatedSpaces")


class VpnConfigPatchSchema(_PatchSchema, VpnConfigCreateSchema):
    """PATCH /vpn-configs/{id}."""

    immutable_fields = IMMUTABLE_VPN_FIELDS

    class Meta:
        description = MERGE_PATCH
        exclude = ("space",)


class VpnConfigSchema(_Stored, VpnConfigCreateSchema):
    """An always-on VPN configuration."""


class VpnConfigListSchema(Schema):
    """GET /vpn-configs."""

    vpnConfigs = fields.List(fields.Nested(VpnConfigSchema))
    nextPageToken = fields.String()


# --- Dedicated-device (COSU) configurations ----------------------------------------------------

class KioskAppSchema(Schema):
    """The app pinned on screen; a PUBLIC or PRIVATE catalog app."""

    packageName = _package_name_field(required=True)


class LockdownSchema(Schema):
    """General lockdown; defaults are the seed's."""

    keepScreenOn = fields.List(fields.String(validate=_one_of(PLUGGED_MODES)), load_default=list,
                               metadata={"description": "power sources that keep the screen "
                                                        "on; all three mean any"})
    disallowSetTime = StrictBoolean(load_default=True)
    disallowUnknownApps = StrictBoolean(load_default=True)
    disableOsGames = StrictBoolean(load_default=True)
    disallowInstallApps = StrictBoolean(load_default=False)
    disableKeyguard = StrictBoolean(load_default=False)
    disallowModifyAccounts = StrictBoolean(load_default=True)
    networkEscapeHatch = StrictBoolean(load_default=True)
    disableNetworkReset = StrictBoolean(load_default=False)
    allowCertificateSelection = StrictBoolean(load_default=True)
    disallowDisableAccounts = StrictBoolean(load_default=True)
    disallowUserIconChange = StrictBoolean(load_default=True)
    disallowWallpaperChange = StrictBoolean(load_default=True)
    disableStatusBar = StrictBoolean(load_default=False)
    disallowUninstallApps = StrictBoolean(load_default=False)
    disallowAccountCreation = StrictBoolean(load_default=True)

    @validates_schema
    def _plugged_modes_are_unique(self, data: dict[str, Any], **_: Any) -> None:
        _refuse_duplicates(data, "keepScreenOn")


class KioskSchema(Schema):
    """Kiosk customisation."""

    statusBar = fields.String(load_default="HIDDEN", validate=_one_of(STATUS_BAR_MODES))
    navigation = fields.String(load_default="DISABLED", validate=_one_of(NAVIGATION_MODES))
    globalActions = StrictBoolean(load_default=True, metadata={
        "description": "the power button's menu (restart, power off)"})
    errorDialogs = StrictBoolean(load_default=False, metadata={
        "description": "show crash and not-responding dialogs"})


class BrightnessSchema(Schema):
    """Screen brightness: the user's choice, automatic, or fixed at a level."""

    mode = fields.String(required=True, validate=_one_of(BRIGHTNESS_MODES))
    level = fields.Integer(strict=True, validate=validate.Range(
        min=1, max=MAX_BRIGHTNESS, error=f"must be an integer between 1 and {MAX_BRIGHTNESS}"),
        metadata={"description": "1 (dimmest) to 255; required when FIXED, the level "
                                 "AUTOMATIC adjusts around otherwise"})

    @validates_schema
    def _level_fits_the_mode(self, data: dict[str, Any], **_: Any) -> None:
        if data["mode"] == "FIXED" and data.get("level") is None:
            raise ValidationError({"level": ["is required when mode is FIXED"]})
        if data["mode"] == "USER_CHOICE" and data.get("level") is not None:
            raise ValidationError({"level": [
                "must not be set when mode is USER_CHOICE: the user sets the brightness"]})


class DisplaySchema(Schema):
    """The screen (Android 9 and later)."""

    brightness = fields.Nested(BrightnessSchema)
    screenTimeoutSeconds = fields.Integer(strict=True, validate=validate.Range(
        min=1, max=MAX_SCREEN_TIMEOUT_SECONDS,
        error=f"must be an integer between 1 and {MAX_SCREEN_TIMEOUT_SECONDS}"), metadata={
        "description": "the screen turns off after this long without a touch, and people "
                       "cannot change it; a device's own lower bound applies"})


class ConnectivitySchema(Schema):
    """Networks, radios and cables; each absent setting keeps AMAPI's default."""

    usbDataAccess = fields.String(validate=_one_of(USB_DATA_ACCESS), metadata={
        "description": "ALLOWED; NO_FILE_TRANSFER (charging and accessories only); DISALLOWED "
                       "(no data over USB at all)"})
    wifiConfiguration = fields.String(validate=_one_of(WIFI_CONFIGURATION), metadata={
        "description": "ALLOWED; NO_ADD (people cannot add networks, Android 13+); LOCKED "
                       "(only the distributed Wi-Fi configurations remain)"})
    ssidAllowlist = fields.List(
        fields.String(validate=_ssid),
        validate=validate.Length(min=1, max=MAX_ALLOWED_SSIDS,
                                 error=f"must list 1 to {MAX_ALLOWED_SSIDS} SSIDs"),
        metadata={"description": "the only networks a device may join (Android 13+)"})
    tethering = fields.String(validate=_one_of(TETHERING))
    bluetoothSharing = StrictBoolean(metadata={"description": "sending files over Bluetooth"})
    airplaneMode = fields.String(validate=_one_of(AIRPLANE_MODE))
    wifi = fields.String(validate=_one_of(WIFI_STATES), metadata={
        "description": "USER_CHOICE, or Wi-Fi kept ENABLED or DISABLED"})
    minimumWifiSecurity = fields.String(validate=_one_of(WIFI_SECURITY_LEVELS), metadata={
        "description": "the weakest Wi-Fi security a device may join"})

    @validates_schema
    def _lists_have_no_duplicates(self, data: dict[str, Any], **_: Any) -> None:
        _refuse_duplicates(data, "ssidAllowlist")


class PrivateDnsSchema(Schema):
    """The device's private DNS (Android 10 and later)."""

    mode = fields.String(required=True, validate=_one_of(PRIVATE_DNS_MODES))
    host = fields.String(validate=validate.Regexp(HOST_NAME, error=(
        "must be a host name such as dns.example.com")), metadata={
        "description": "the DNS-over-TLS server; required when mode is HOST, and only then"})

    @validates_schema
    def _host_fits_the_mode(self, data: dict[str, Any], **_: Any) -> None:
        if data["mode"] == "HOST" and data.get("host") is None:
            raise ValidationError({"host": ["is required when mode is HOST"]})
        if data["mode"] != "HOST" and data.get("host") is not None:
            raise ValidationError({"host": [
                f"is only allowed when mode is HOST, not {data['mode']}"]})


class HomeSchema(Schema):
    """The home app."""

    defaultHome = StrictBoolean(load_default=False, metadata={
        "description": "make the pinned app the default home app too (Android 16 and later; "
                       "older devices report the setting as not applied)"})


def _minute_of_day(**options: Any) -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.Range(
        min=0, max=LAST_MINUTE_OF_DAY,
        error=f"must be an integer between 0 and {LAST_MINUTE_OF_DAY} (minutes after "
              "local midnight)"), **options)


class UpdateWindowSchema(Schema):
    """Daily maintenance window; an end before the start spans midnight."""

    startMinutes = _minute_of_day(required=True)
    endMinutes = _minute_of_day(required=True)


def _month_day(value: str) -> None:
    try:
        parse_month_day(value)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


class FreezePeriodSchema(Schema):
    """Days when no system update is installed, both included; end < start wraps the year."""

    start = fields.String(required=True, validate=_month_day, metadata={"example": "12-01"})
    end = fields.String(required=True, validate=_month_day, metadata={"example": "01-15"})


def _hour(**options: Any) -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.Range(
        min=0, max=23, error="must be an hour between 0 and 23"), **options)


class UpdateRuleWhenSchema(Schema):
    """When a rule applies, in the device's time zone; every condition given must hold."""

    daysOfWeek = fields.List(fields.String(validate=_one_of(DAYS_OF_WEEK)))
    fromHour = _hour()
    toHour = _hour(metadata={"description": "the window closes at this hour; after fromHour"})
    fromDate = fields.String(validate=calendar_date, metadata={"example": "2027-01-01"})
    untilDate = fields.String(validate=calendar_date, metadata={"example": "2027-01-31"})
    minUpdateAgeDays = fields.Integer(strict=True, validate=validate.Range(min=0, max=3650),
                                      metadata={"description": "days the update has been out"})
    maxUpdateAgeDays = fields.Integer(strict=True, validate=validate.Range(min=1, max=3650))

    @validates_schema
    def _bounds_are_ordered(self, data: dict[str, Any], **_: Any) -> None:
        _refuse_duplicates(data, "daysOfWeek")
        # AMAPI: an hour window matches only when it closes after it opens.
        for low, high, reaches in (("fromHour", "toHour", False), ("fromDate", "untilDate", True),
                                   ("minUpdateAgeDays", "maxUpdateAgeDays", False)):
            if data.get(low) is None or data.get(high) is None:
                continue
            if data[high] < data[low] or (data[high] == data[low] and not reaches):
                raise ValidationError({high: [f"must come after {low}"]})


class UpdateRuleSchema(Schema):
    """One update-control rule: for these targets, when this holds, this outcome."""

    id = fields.String(required=True, validate=validate.Length(
        min=1, max=MAX_RULE_ID, error=f"must be 1-{MAX_RULE_ID} characters"))
    targets = fields.List(fields.String(validate=_one_of(UPDATE_TARGETS)), required=True,
                          validate=validate.Length(min=1, error="must name a target"))
    outcome = fields.String(required=True, validate=_one_of(UPDATE_OUTCOMES), metadata={
        "description": "FORCE installs, USER_PROMPT asks, BLOCK holds the update (AMAPI lets "
                       "an update through anyway once it has waited long enough)"})
    when = fields.Nested(UpdateRuleWhenSchema, metadata={
        "description": "absent: always"})
    stages = fields.List(fields.String(validate=_one_of(UPDATE_STAGES)), metadata={
        "description": "OS update targets only: the rule is read when downloading, applying, "
                       "or (absent) both"})

    @validates_schema
    def _stages_only_for_os_updates(self, data: dict[str, Any], **_: Any) -> None:
        _refuse_duplicates(data, "targets", "stages")
        if data.get("stages") and not set(data["targets"]) <= set(OS_UPDATE_TARGETS):
            raise ValidationError({"stages": [
                "only apply to OS update targets; AMAPI reads the rule at every stage for "
                "the others"]})


class SystemUpdateSchema(Schema):
    """System update policy."""

    type = fields.String(load_default="AUTOMATIC", validate=_one_of(SYSTEM_UPDATE_TYPES))
    rules = fields.List(
        fields.Nested(UpdateRuleSchema),
        validate=validate.Length(max=MAX_UPDATE_RULES,
                                 error=f"must list at most {MAX_UPDATE_RULES} rules"),
        metadata={"description": "update-control rules, the first matching one decides "
                                 "(company-owned devices): Google Play system updates and "
                                 "Google system services always; OS updates only with type "
                                 "RULES, on devices whose maker supports them"})
    window = fields.Nested(UpdateWindowSchema)
    freezePeriods = fields.List(
        fields.Nested(FreezePeriodSchema), load_default=list,
        validate=validate.Length(max=MAX_FREEZE_PERIODS, error=(
            f"must list at most {MAX_FREEZE_PERIODS} periods: no more fit in a year "
            f"{MIN_SEPARATION_DAYS} days apart")),
        metadata={"description": f"each at most {MAX_LENGTH_DAYS} days long, at least "
                                 f"{MIN_SEPARATION_DAYS} days apart, also across the year end"})

    @validates_schema
    def _window_fits_the_type(self, data: dict[str, Any], **_: Any) -> None:
        if data["type"] == "WINDOWED" and data.get("window") is None:
            raise ValidationError({"window": ["is required when type is WINDOWED"]})
        if data["type"] != "WINDOWED" and data.get("window") is not None:
            raise ValidationError({"window": [
                f"is only allowed when type is WINDOWED, not {data['type']}"]})

    @validates_schema
    def _rules_fit_the_type(self, data: dict[str, Any], **_: Any) -> None:
        rules = data.get("rules") or []
        ids = _duplicate_errors(rule["id"] for rule in rules)
        if ids:
            raise ValidationError({"rules": {index: {"id": reasons}
                                             for index, reasons in ids.items()}})
        if data["type"] == "RULES":
            if data.get("freezePeriods"):
                raise ValidationError({"freezePeriods": [
                    "are only allowed with AUTOMATIC, POSTPONE or WINDOWED: with RULES, "
                    "rules with a BLOCK outcome hold updates"]})
            return
        for index, rule in enumerate(rules):
            os_targets = [t for t in rule["targets"] if t in OS_UPDATE_TARGETS]
            if os_targets:
                raise ValidationError({"rules": {index: {"targets": [
                    f"{os_targets[0]} follows type {data['type']}: AMAPI lets the system "
                    "update type decide OS updates; set type to RULES for rules to"]}}})

    @validates_schema
    def _freeze_periods_follow_android_rules(self, data: dict[str, Any], **_: Any) -> None:
        periods = [(parse_month_day(period["start"]), parse_month_day(period["end"]))
                   for period in data.get("freezePeriods") or ()]
        problems = validate_freeze_periods(periods)
        if problems:
            raise ValidationError({"freezePeriods": {index: [reason]
                                                     for index, reason in problems}})


class CosuConfigCreateSchema(_ResourceSchema):
    """POST /cosu-configs: a dedicated-device configuration."""

    name = _name_field()
    description = fields.String(validate=validate.Length(max=1000))
    priority = fields.Integer(required=True, strict=True, validate=validate.Range(
        min=0, max=MAX_PRIORITY, error=f"must be an integer between 0 and {MAX_PRIORITY}"),
        metadata={"description": "the highest priority distributed to a device wins"})
    space = _space_field()
    app = fields.Nested(KioskAppSchema, required=True)
    lockdown = fields.Nested(LockdownSchema, load_default=_defaults_of(LockdownSchema))
    kiosk = fields.Nested(KioskSchema, load_default=_defaults_of(KioskSchema))
    systemUpdate = fields.Nested(SystemUpdateSchema,
                                 load_default=_defaults_of(SystemUpdateSchema))
    display = fields.Nested(DisplaySchema)
    connectivity = fields.Nested(ConnectivitySchema)
    privateDns = fields.Nested(PrivateDnsSchema)
    home = fields.Nested(HomeSchema)
    additionalKioskApps = fields.List(
        fields.Nested(KioskAppSchema),
        validate=validate.Length(max=MAX_KIOSK_APPS,
                                 error=f"must list at most {MAX_KIOSK_APPS} apps"),
        metadata={"description": "a multi-app kiosk: these apps and the pinned one, on "
                                 "AMAPI's kiosk launcher instead of one pinned app"})
    distribution = _distribution_field()
    delegatedSpaces = _delegated_spaces_field()

    @validates_schema
    def _lists_have_no_duplicates(self, data: dict[str, Any], **_: Any) -> None:
        _refuse_duplicates(data, "delegatedSpaces")
        packages = [app["packageName"] for app in data.get("additionalKioskApps") or ()]
        duplicates = _duplicate_errors(packages)
        pinned = (data.get("app") or {}).get("packageName")
        for index, package in enumerate(packages):
            if package == pinned:
                duplicates.setdefault(index, []).append("is the pinned app already")
        if duplicates:
            raise ValidationError({"additionalKioskApps": {
                index: {"packageName": reasons} for index, reasons in duplicates.items()}})

    @validates_schema
    def _one_home(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("additionalKioskApps") and (data.get("home") or {}).get("defaultHome"):
            raise ValidationError({"home": {"defaultHome": [
                "cannot be set with additionalKioskApps: the kiosk launcher is the home app"]}})


class CosuConfigPatchSchema(_PatchSchema, CosuConfigCreateSchema):
    """PATCH /cosu-configs/{id}: merged into the stored configuration (RFC 7396)."""

    immutable_fields = IMMUTABLE_COSU_FIELDS

    class Meta:
        description = MERGE_PATCH
        exclude = ("space",)


class CosuConfigSchema(_Stored, CosuConfigCreateSchema):
    """A dedicated-device configuration."""

    policyName = fields.String(metadata={"description": "the AMAPI policy it compiles to"})
    findings = fields.List(fields.Nested(FindingSchema), metadata={
        "description": "on create and patch: what the kiosk linter finds"})


class CosuConfigListSchema(Schema):
    """GET /cosu-configs."""

    cosuConfigs = fields.List(fields.Nested(CosuConfigSchema))
    nextPageToken = fields.String()


def default_device_settings() -> dict[str, Any]:
    """The lockdown, kiosk and systemUpdate objects of a configuration that sets none."""
    return {"lockdown": LockdownSchema().load({}), "kiosk": KioskSchema().load({}),
            "systemUpdate": SystemUpdateSchema().load({})}


class SpaceCreateSchema(Schema):
    """POST /spaces."""

    id = fields.String(required=True, validate=validate.Regexp(SPACE_ID, error=SPACE_ID_RULE))
    displayName = fields.String(validate=validate.Length(min=1, max=100))
    parent = fields.String(load_default="global",
                           validate=validate.Regexp(SPACE_ID, error=SPACE_ID_RULE))


class RoleBindingCreateSchema(Schema):
    """POST /role-bindings."""

    principal = fields.Email(required=True)
    role = fields.String(required=True, validate=validate.OneOf(["ADMIN", "OPERATOR", "VIEWER"]))
    space = fields.String(load_default="global",
                          validate=validate.Regexp(SPACE_ID, error=SPACE_ID_RULE))


class SpaceSchema(Schema):
    """A space."""

    id = fields.String()
    displayName = fields.String()
    parent = fields.String(allow_none=True)
    createTime = fields.String()


class RoleBindingSchema(Schema):
    """A role binding."""

    id = fields.String()
    principal = fields.String()
    role = fields.String()
    space = fields.String()
    createTime = fields.String()
    grantedBy = fields.String()


class AuditQuerySchema(SpaceListQuerySchema):
    """Query of GET /audit-log."""

    principal = QueryText(metadata={"description": "only entries of this principal (email)"})
