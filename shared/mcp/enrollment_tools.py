"""MCP tools on enrollment profiles: list, read (with the QR code as an image), create, delete."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from shared.access.spaces import SPACE_ID, SPACE_ID_RULE
from shared.enrollment import profiles, qr_images
from shared.enrollment import schemas as enrollment_schemas
from shared.mcp.tools import READ, Hints, Invocation, Output, Plan, Tool
from shared.pagination import MAX_PAGE_SIZE

# The profile representation links its QR images relative to the enroll function, whose URL an
# agent does not know: the tools show the image itself instead of the links.
LINKS_BASE = ""


def _shown(profile: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in profile.items() if key != "qrImage"}


def space_field() -> fields.String:
    """An optional space narrowing a list."""
    return fields.String(validate=validate.Regexp(SPACE_ID, error=SPACE_ID_RULE), metadata={
        "description": "only this space (default: every space the caller can see)"})


def page_fields() -> dict[str, fields.Field[Any]]:
    """pageSize and pageToken of a list tool."""
    return {"pageSize": fields.Integer(strict=True, load_default=20,
                                       validate=validate.Range(min=1, max=MAX_PAGE_SIZE)),
            "pageToken": fields.String(validate=validate.Length(max=2000))}


ListProfilesRequest = Schema.from_dict({
    "space": space_field(),
    "status": fields.String(validate=validate.OneOf(enrollment_schemas.PROFILE_STATUSES)),
    **page_fields()}, name="ListProfilesRequest")


class ProfileRequest(Schema):
    """One enrollment profile."""

    profileId = fields.String(required=True, validate=validate.Length(min=1, max=200))


def list_enrollment_profiles(call: Invocation) -> Output:
    """Profiles the caller can see, oldest first."""
    args = call.arguments
    page = profiles.list_profiles(args.get("space"), args.get("status"), args["pageSize"],
                                  args.get("pageToken"), LINKS_BASE)
    page["enrollmentProfiles"] = [_shown(p) for p in page["enrollmentProfiles"]]
    return Output(page)


def get_enrollment_profile(call: Invocation) -> Output:
    """One profile, and its QR code as a PNG while its token can enroll."""
    profile = profiles.get_profile(call.arguments["profileId"], LINKS_BASE)
    images = [qr_images.png(profile["qrCode"])] if profile["status"] == "ACTIVE" else []
    return Output(_shown(profile), images)


def create_enrollment_profile(call: Invocation) -> Output:
    """A new profile with its AMAPI enrollment token."""
    profile = profiles.create_profile(call.arguments, LINKS_BASE)
    return Output(_shown(profile), [qr_images.png(profile["qrCode"])],
                  resource=f"/enroll/enrollment-profiles/{profile['id']}")


def plan_profile_deletion(call: Invocation) -> Plan:
    """What deleting a profile would do."""
    profile = profiles.for_change(call.arguments["profileId"])
    shown = profiles.represent(profile, LINKS_BASE)
    return Plan({"action": "DELETE_ENROLLMENT_PROFILE",
                 "effect": "the profile's enrollment token is revoked: its QR code enrolls no "
                           "more devices; devices it enrolled stay managed",
                 "devicesAffected": 0,
                 "profile": {k: shown[k] for k in ("id", "name", "space", "status",
                                                   "enrolledDevices")}},
                shown["etag"])


def delete_enrollment_profile(call: Invocation) -> Output:
    """Revoke the profile's token and delete it (once confirmed, at the confirmed version)."""
    profile_id = call.arguments["profileId"]
    etag = profiles.represent(profiles.for_change(profile_id), LINKS_BASE)["etag"]
    profiles.delete_profile(profile_id, etag)
    return Output({"deleted": True, "profileId": profile_id},
                  resource=f"/enroll/enrollment-profiles/{profile_id}")


TOOLS = (
    Tool("list_enrollment_profiles", "List enrollment profiles",
         "Enrollment profiles (one AMAPI enrollment token and QR code each), with their status "
         "(ACTIVE, EXPIRED, USED) and enrolled device counts.", ListProfilesRequest, READ,
         list_enrollment_profiles),
    Tool("get_enrollment_profile", "Get an enrollment profile",
         "One enrollment profile; while its token can enroll, its QR code comes as a PNG image "
         "to show or scan.", ProfileRequest, READ, get_enrollment_profile),
    Tool("create_enrollment_profile", "Create an enrollment profile",
         "Creates an enrollment profile: an AMAPI enrollment token valid validityDays days for "
         "a device user, with custom attributes; answers its QR code as a PNG image. ADMIN of "
         "the space.", enrollment_schemas.EnrollmentProfileCreateSchema,
         Hints(read_only=False, destructive=False, idempotent=False),
         create_enrollment_profile),
    Tool("delete_enrollment_profile", "Delete an enrollment profile",
         "Revokes a profile's enrollment token and deletes it; the devices it enrolled stay "
         "managed. Two calls: the first answers the plan and a confirmationToken.",
         ProfileRequest, Hints(read_only=False, destructive=True, idempotent=False),
         delete_enrollment_profile, plan=plan_profile_deletion),
)
