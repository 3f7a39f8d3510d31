"""Function `enroll` (HTTP): enrollment profiles, device users, attributes, enrollment rules.

Also hosts the scheduled target `expire_tokens`, deployed as its own function.
"""

from typing import Any

import functions_framework
from flask import Request, Response
from werkzeug.exceptions import HTTPException

from shared import enterprise, errors
from shared.access.space_params import SpaceListQuerySchema, SpaceQuerySchema
from shared.clock import utcnow
from shared.config import settings
from shared.enrollment import device_attributes, device_users, qr_images, schemas
from shared.enrollment import profiles as enrollment_profiles
from shared.enrollment import rules as enrollment_rules
from shared.http.router import Context, Reply, Router

router = Router("amapi-cosu enroll", "Enrollment profiles, device users, custom device "
                "attributes and enrollment rules for dedicated Android devices.")
expiry = Router("amapi-cosu expire_tokens", "Scheduled target: expire enrollment tokens.")


def _created(resource: dict[str, Any], collection: str, ctx: Context) -> Reply:
    location = f"{ctx.request.script_root}/{collection}/{resource['id']}"
    return Reply(resource, 201, {"Location": location, "ETag": resource["etag"]})


@router.route("POST", "/users", "Create a device user", idempotent=True, success_status=201,
              request_schema=schemas.DeviceUserCreateSchema,
              response_schema=schemas.DeviceUserSchema)
def create_user(ctx: Context) -> Reply:
    user = device_users.create_user(ctx.body(schemas.DeviceUserCreateSchema()))
    return _created(user, "users", ctx)


@router.route("GET", "/users", "Find device users (type-ahead by prefix) or list them",
              query_schema=schemas.UserQuerySchema, response_schema=schemas.DeviceUserListSchema)
def list_users(ctx: Context) -> dict[str, Any]:
    return device_users.list_users(ctx.args["space"], ctx.args["prefix"], ctx.args["pageSize"],
                                   ctx.args["pageToken"])


@router.route("GET", "/users/<user>", "Get a device user by id, or by userName",
              query_schema=SpaceQuerySchema, response_schema=schemas.DeviceUserSchema)
def get_user(ctx: Context) -> Reply:
    user = device_users.get_user(ctx.params["user"], ctx.args["space"])
    return Reply(user, headers={"ETag": user["etag"]})


@router.route("PATCH", "/users/<user>", "Change a device user's displayName or email "
              "(userName is immutable)", query_schema=SpaceQuerySchema,
              request_schema=schemas.DeviceUserPatchSchema,
              response_schema=schemas.DeviceUserSchema)
def edit_user(ctx: Context) -> Reply:
    # Who may change it is settled before the body is read: a hidden user is a 404 whatever
    # the body says.
    stored = device_users.for_change(ctx.params["user"], ctx.args["space"])
    ctx.refuse_immutable(schemas.IMMUTABLE_USER_FIELDS)
    user = device_users.change_user(stored, ctx.body(schemas.DeviceUserPatchSchema()),
                                    ctx.request.headers.get("If-Match"))
    return Reply(user, headers={"ETag": user["etag"]})


@router.route("DELETE", "/users/<user>", "Delete a device user no profile or device uses",
              query_schema=SpaceQuerySchema, success_status=204)
def delete_user(ctx: Context) -> Reply:
    stored = device_users.for_change(ctx.params["user"], ctx.args["space"])
    device_users.delete_user(stored, ctx.request.headers.get("If-Match"))
    return Reply(None, 204)


@router.route("POST", "/device-attributes", "Define a custom device attribute",
              idempotent=True, success_status=201,
              request_schema=schemas.DeviceAttributeCreateSchema,
              response_schema=schemas.DeviceAttributeSchema)
def create_attribute(ctx: Context) -> Reply:
    attribute = device_attributes.create_attribute(
        ctx.body(schemas.DeviceAttributeCreateSchema()))
    return _created(attribute, "device-attributes", ctx)


@router.route("GET", "/device-attributes", "List custom device attribute definitions",
              query_schema=SpaceListQuerySchema,
              response_schema=schemas.DeviceAttributeListSchema)
def list_attributes(ctx: Context) -> dict[str, Any]:
    return device_attributes.list_attributes(ctx.args["space"], ctx.args["pageSize"],
                                             ctx.args["pageToken"])


@router.route("GET", "/device-attributes/<attribute>",
              "Get a custom device attribute definition by id, or by name",
              query_schema=SpaceQuerySchema,
              response_schema=schemas.DeviceAttributeSchema)
def get_attribute(ctx: Context) -> Reply:
    attribute = device_attributes.get_attribute(ctx.params["attribute"], ctx.args["space"])
    return Reply(attribute, headers={"ETag": attribute["etag"]})


@router.route("PATCH", "/device-attributes/<attribute>",
              "Change a definition's description, allowed values or required flag (checked "
              "against the profiles and devices carrying it; name is immutable)",
              query_schema=SpaceQuerySchema, request_schema=schemas.DeviceAttributePatchSchema,
              response_schema=schemas.DeviceAttributeSchema)
def edit_attribute(ctx: Context) -> Reply:
    stored = device_attributes.for_change(ctx.params["attribute"], ctx.args["space"])
    ctx.refuse_immutable(schemas.IMMUTABLE_ATTRIBUTE_FIELDS)
    attribute = device_attributes.change_attribute(
        stored, ctx.body(schemas.DeviceAttributePatchSchema()),
        ctx.request.headers.get("If-Match"))
    return Reply(attribute, headers={"ETag": attribute["etag"]})


@router.route("DELETE", "/device-attributes/<attribute>",
              "Delete a definition no profile or device carries", query_schema=SpaceQuerySchema,
              success_status=204)
def delete_attribute(ctx: Context) -> Reply:
    stored = device_attributes.for_change(ctx.params["attribute"], ctx.args["space"])
    device_attributes.delete_attribute(stored, ctx.request.headers.get("If-Match"))
    return Reply(None, 204)


@router.route("POST", "/enrollment-profiles", "Create an enrollment profile (AMAPI token)",
              idempotent=True, success_status=201,
              request_schema=schemas.EnrollmentProfileCreateSchema,
              response_schema=schemas.EnrollmentProfileSchema)
def create_profile(ctx: Context) -> Reply:
    profile = enrollment_profiles.create_profile(
        ctx.body(schemas.EnrollmentProfileCreateSchema()), ctx.request.script_root)
    return _created(profile, "enrollment-profiles", ctx)


@router.route("GET", "/enrollment-profiles", "List enrollment profiles",
              query_schema=schemas.ProfileQuerySchema,
              response_schema=schemas.EnrollmentProfileListSchema)
def list_profiles(ctx: Context) -> dict[str, Any]:
    return enrollment_profiles.list_profiles(
        ctx.args["space"], ctx.args["status"], ctx.args["pageSize"], ctx.args["pageToken"],
        ctx.request.script_root)


@router.route("GET", "/enrollment-profiles/<profile_id>", "Get an enrollment profile",
              response_schema=schemas.EnrollmentProfileSchema)
def get_profile(ctx: Context) -> Reply:
    profile = enrollment_profiles.get_profile(ctx.params["profile_id"],
                                              ctx.request.script_root)
    return Reply(profile, headers={"ETag": profile["etag"]})


@router.route("PATCH", "/enrollment-profiles/<profile_id>",
              "Renew the token: a fresh one valid validityDays from now",
              request_schema=schemas.EnrollmentProfileEditSchema,
              response_schema=schemas.EnrollmentProfileSchema)
def edit_profile(ctx: Context) -> Reply:
    # Who may change it is settled before the body is read: a hidden profile is a 404 whatever
    # the body says.
    stored = enrollment_profiles.for_change(ctx.params["profile_id"])
    ctx.refuse_immutable(schemas.IMMUTABLE_PROFILE_FIELDS)
    body = ctx.body(schemas.EnrollmentProfileEditSchema())
    profile = enrollment_profiles.change_validity(
        stored, body["validityDays"], ctx.request.headers.get("If-Match"),
        ctx.request.script_root)
    return Reply(profile, headers={"ETag": profile["etag"]})


@router.route("DELETE", "/enrollment-profiles/<profile_id>",
              "Delete a profile and revoke its token (enrolled devices stay managed)",
              success_status=204)
def delete_profile(ctx: Context) -> Reply:
    enrollment_profiles.delete_profile(ctx.params["profile_id"],
                                       ctx.request.headers.get("If-Match"))
    return Reply(None, 204)


def _qr(ctx: Context, render: Any, media_type: str) -> Reply:
    text = enrollment_profiles.qr_text(ctx.params["profile_id"])
    return Reply(render(text), content_type=media_type,
                 headers={"Cache-Control": "private, no-store"})


@router.route("GET", "/enrollment-profiles/<profile_id>/qr.png", "The QR code as PNG",
              media_type="image/png")
def qr_png(ctx: Context) -> Reply:
    return _qr(ctx, qr_images.png, "image/png")


@router.route("GET", "/enrollment-profiles/<profile_id>/qr.svg", "The QR code as SVG",
              media_type="image/svg+xml")
def qr_svg(ctx: Context) -> Reply:
    return _qr(ctx, qr_images.svg, "image/svg+xml")


@router.route("GET", "/enrollment-rules", "The enrollment rules of a space",
              query_schema=schemas.RulesQuerySchema,
              response_schema=schemas.EnrollmentRulesSchema)
def get_rules(ctx: Context) -> Reply:
    rules = enrollment_rules.get_rules(ctx.args["space"])
    return Reply(rules, headers={"ETag": rules["etag"]})


@router.route("PUT", "/enrollment-rules", "Replace the enrollment rules of a space",
              request_schema=schemas.EnrollmentRulesWriteSchema,
              response_schema=schemas.EnrollmentRulesSchema)
def put_rules(ctx: Context) -> Reply:
    rules = enrollment_rules.put_rules(ctx.body(schemas.EnrollmentRulesWriteSchema()),
                                       ctx.request.headers.get("If-Match"))
    return Reply(rules, headers={"ETag": rules["etag"]})


@router.route("POST", "/enterprise:signup", "Start binding a managed Google Play enterprise",
              request_schema=schemas.EnterpriseSignupSchema, response_schema=schemas.SignupSchema,
              operation_id="startEnterpriseSignup")
def start_signup(ctx: Context) -> dict[str, Any]:
    body = ctx.body(schemas.EnterpriseSignupSchema())
    return enterprise.start_signup(body["callbackUrl"], body.get("adminEmail"))


@router.route("POST", "/enterprise:complete", "Create the enterprise from a finished signup",
              request_schema=schemas.EnterpriseCompleteSchema,
              response_schema=schemas.EnterpriseSchema, operation_id="completeEnterpriseSignup")
def complete_signup(ctx: Context) -> dict[str, Any]:
    body = ctx.body(schemas.EnterpriseCompleteSchema())
    return enterprise.complete_signup(body["signupUrlName"], body["enterpriseToken"],
                                      body.get("displayName"))


@router.route("GET", "/enterprise", "The enterprise this suite manages",
              response_schema=schemas.EnterpriseSchema)
def get_enterprise(ctx: Context) -> dict[str, Any]:
    return enterprise.current()


@router.route("PATCH", "/enterprise", "Re-wire the enterprise's notifications",
              request_schema=schemas.EnterprisePatchSchema,
              response_schema=schemas.EnterpriseSchema)
def patch_enterprise(ctx: Context) -> dict[str, Any]:
    return enterprise.rewire(ctx.body(schemas.EnterprisePatchSchema()))


@expiry.route("POST", "/", "Mark expired enrollment profiles and revoke their tokens",
              authorize=False,  # only SCHEDULER_PRINCIPALS may call it
              request_schema=schemas.ExpireTokensRequestSchema,
              response_schema=schemas.ExpireTokensResultSchema, operation_id="expireTokens")
def run_token_expiry(ctx: Context) -> dict[str, Any]:
    from shared.enrollment.token_expiry import expire_tokens

    body = (ctx.body(schemas.ExpireTokensRequestSchema())
            if ctx.request.get_data(cache=True).strip() else {})
    if "now" in body and not settings().emulated:
        raise errors.InvalidArgument.field("now", "is accepted only against the emulators")
    run = expire_tokens(body.get("now") or utcnow())
    return {"expired": run.expired, "revoked": run.revoked, "deferred": run.deferred}


functions_framework.errorhandler(HTTPException)(router.framework_error)


@functions_framework.http
def enroll(request: Request) -> Response:
    return router.dispatch(request)


@functions_framework.http
def expire_tokens(request: Request) -> Response:
    return expiry.dispatch(request)
