"""Function `policy` (HTTP): COSU configurations, app catalog, Wi-Fi and VPN, compiled to AMAPI."""

from typing import Any

import functions_framework
from flask import Request, Response
from werkzeug.exceptions import HTTPException

from shared.access import role_bindings, roles
from shared.access.space_params import (
    SpaceChangeQuerySchema,
    SpaceListQuerySchema,
    SpaceQuerySchema,
)
from shared.devices import inventory
from shared.devices.schemas import DeviceListSchema
from shared.http.requests import parse_object
from shared.http.router import Context, Reply, Router
from shared.policy import app_feedback, rollouts, schemas
from shared.policy import configurations as resources
from shared.query_params import ValidateOnlyQuerySchema
from shared.representation import loaded

router = Router("amapi-cosu policy", "Dedicated-device (COSU) configurations, the app "
                "catalog, Wi-Fi and always-on VPN, compiled into AMAPI policies.")


class _MergePatch:
    """Loads a PATCH body as the JSON object it is: it is merged into the stored resource and
    the result validated whole (`configurations.update`)."""

    def load(self, data: dict[str, Any], partial: bool = False) -> dict[str, Any]:
        return data


def _crud(kind: resources.Kind, path: str, param: str, create_schema: Any, patch_schema: Any,
          response_schema: Any, list_schema: Any, immutable: tuple[str, ...],
          create_query: Any = ValidateOnlyQuerySchema,
          change_query: Any = SpaceChangeQuerySchema) -> None:
    """Register create, list, get, patch and delete for one kind of resource."""

    def create(ctx: Context) -> Reply:
        body = dict(parse_object(ctx.request))
        plan = body.pop("rollout", None)
        validate_only = bool(ctx.args["validateOnly"])
        created = resources.create(kind, loaded("request", lambda: create_schema().load(body)),
                                   _staging(plan), validate_only, bool(ctx.args.get("strict")))
        if validate_only:
            return Reply(created)
        if "rollout" in created:
            return _accepted(ctx, created)
        location = f"{ctx.request.script_root}{path}/{created['id']}"
        return Reply(created, 201, {"Location": location, "ETag": created["etag"]})

    def list_all(ctx: Context) -> dict[str, Any]:
        return resources.list_page(kind, ctx.args["space"], ctx.args["pageSize"],
                                   ctx.args["pageToken"])

    def get(ctx: Context) -> Reply:
        found = resources.get(kind, ctx.args["space"], ctx.params[param])
        return Reply(found, headers={"ETag": found["etag"]})

    def patch(ctx: Context) -> Reply:
        # Who may change it is settled before the body is read: a caller who cannot see the
        # resource learns nothing about it from a validation error.
        space = ctx.args["space"]
        resources.find(kind, ctx.params[param], space, roles.ADMIN)
        ctx.refuse_immutable(immutable)
        changes = dict(ctx.body(_MergePatch()))
        plan = changes.pop("rollout", None)
        changed = resources.update(kind, space, ctx.params[param], changes,
                                   ctx.request.headers.get("If-Match"), _staging(plan),
                                   bool(ctx.args["validateOnly"]), bool(ctx.args.get("strict")))
        if ctx.args["validateOnly"]:
            return Reply(changed)
        if "rollout" in changed:
            return _accepted(ctx, changed)
        return Reply(changed, headers={"ETag": changed["etag"]})

    def delete(ctx: Context) -> Reply:
        deleted = resources.delete(kind, ctx.args["space"], ctx.params[param],
                                   ctx.request.headers.get("If-Match"),
                                   bool(ctx.args["validateOnly"]))
        if ctx.args["validateOnly"]:
            return Reply(deleted)
        if deleted is not None:
            return _accepted(ctx, deleted)
        return Reply(None, 204)

    label = kind.label
    large = (" A change whose push needs more AMAPI calls than the inline limit is stored at "
             "once and answered 202 with the `rollout` pushing it (Location: the rollout).")
    staged = (" A body field `rollout` (a RolloutPlan: stages, gate, autoRollback) stages the "
              "change, whatever its size: it is kept beside the resource (`pendingChange`) "
              "and a staged rollout pushes it stage by stage (202).")
    router.add("POST", path, create, f"Create a {label}.{large}{staged}", idempotent=True,
               success_status=201, accepted_schema=response_schema,
               query_schema=create_query, preview_schema=schemas.ChangePreviewSchema,
               request_schema=create_schema, response_schema=response_schema)
    router.add("GET", path, list_all, f"List {label}s of the visible spaces, with those "
               "delegated to them", query_schema=SpaceListQuerySchema,
               response_schema=list_schema)
    item = f"{path}/<{param}>"
    router.add("GET", item, get, f"Get a {label} by its id alone",
               query_schema=SpaceQuerySchema, response_schema=response_schema)
    router.add("PATCH", item, patch, f"Change a {label} with a JSON merge patch (RFC 7396: "
               "nested objects merged, null removes, arrays replaced), pushed before the "
               f"reply.{large}{staged}", accepted_schema=response_schema,
               query_schema=change_query, request_schema=patch_schema,
               response_schema=response_schema, preview_schema=schemas.ChangePreviewSchema)
    router.add("DELETE", item, delete, f"Delete a {label}.{large}",
               accepted_schema=schemas.RolloutAcceptedSchema,
               query_schema=SpaceChangeQuerySchema, success_status=204,
               preview_schema=schemas.ChangePreviewSchema)


def _staging(plan: Any) -> dict[str, Any] | None:
    """The rollout plan a change carries (`rollout`), validated; None when there is none."""
    if plan is None:
        return None
    return loaded("rollout plan", lambda: schemas.RolloutPlanSchema().load(plan))


def _accepted(ctx: Context, body: dict[str, Any]) -> Reply:
    """202: the change is stored; its rollout pushes it (Location: the rollout)."""
    location = f"{ctx.request.script_root}/rollouts/{body['rollout']['id']}"
    headers = {"Location": location}
    if "etag" in body:
        headers["ETag"] = body["etag"]
    return Reply(body, 202, headers)


_crud(resources.APP, "/apps", "package_name", schemas.AppCreateSchema, schemas.AppPatchSchema,
      schemas.AppSchema, schemas.AppListSchema, schemas.IMMUTABLE_APP_FIELDS)
_crud(resources.WIFI, "/wifi-configs", "config_id", schemas.WifiConfigCreateSchema,
      schemas.WifiConfigPatchSchema, schemas.WifiConfigSchema, schemas.WifiConfigListSchema,
      schemas.IMMUTABLE_WIFI_FIELDS)
_crud(resources.VPN, "/vpn-configs", "config_id", schemas.VpnConfigCreateSchema,
      schemas.VpnConfigPatchSchema, schemas.VpnConfigSchema, schemas.VpnConfigListSchema,
      schemas.IMMUTABLE_VPN_FIELDS)
_crud(resources.COSU, "/cosu-configs", "config_id", schemas.CosuConfigCreateSchema,
      schemas.CosuConfigPatchSchema, schemas.CosuConfigSchema, schemas.CosuConfigListSchema,
      schemas.IMMUTABLE_COSU_FIELDS, create_query=schemas.CosuCreateQuerySchema,
      change_query=schemas.CosuChangeQuerySchema)


@router.route("GET", "/rollouts", "Rollouts of the visible spaces, optionally in one state",
              query_schema=schemas.RolloutQuerySchema, response_schema=schemas.RolloutListSchema)
def list_rollouts(ctx: Context) -> dict[str, Any]:
    return rollouts.list_page(ctx.args["space"], ctx.args["state"], ctx.args["pageSize"],
                              ctx.args["pageToken"])


@router.route("GET", "/rollouts/<rollout_id>", "One rollout: state, counters, failures",
              response_schema=schemas.RolloutSchema)
def get_rollout(ctx: Context) -> dict[str, Any]:
    return rollouts.get(ctx.params["rollout_id"])


@router.route("POST", "/rollouts/<rollout_id>:cancel", "Stop a rollout between batches (what "
              "it moved stays where it is; the reply says how much)",
              response_schema=schemas.RolloutSchema)
def cancel_rollout(ctx: Context) -> dict[str, Any]:
    return rollouts.cancel(ctx.params["rollout_id"])


@router.route("POST", "/rollouts/<rollout_id>:pause", "Hold a rollout after its current batch",
              response_schema=schemas.RolloutSchema)
def pause_rollout(ctx: Context) -> dict[str, Any]:
    return rollouts.pause(ctx.params["rollout_id"])


@router.route("POST", "/rollouts/<rollout_id>:promote", "Pass a staged rollout's current stage "
              "whatever its gate says and start the next (after the last: promote the change "
              "to every device)", response_schema=schemas.RolloutSchema)
def promote_rollout(ctx: Context) -> dict[str, Any]:
    return rollouts.promote(ctx.params["rollout_id"])


@router.route("POST", "/rollouts/<rollout_id>:rollback", "Put every device of a staged "
              "rollout back on the stored configuration and drop the staged change",
              response_schema=schemas.RolloutSchema)
def rollback_rollout(ctx: Context) -> dict[str, Any]:
    return rollouts.rollback(ctx.params["rollout_id"])


@router.route("POST", "/rollouts/<rollout_id>:resume", "Continue a paused rollout from its "
              "checkpoint", response_schema=schemas.RolloutSchema)
def resume_rollout(ctx: Context) -> dict[str, Any]:
    return rollouts.resume(ctx.params["rollout_id"])


@router.route("GET", "/cosu-configs/<config_id>/lint",
              "What the kiosk linter finds in this configuration: ways out of the pinned app, "
              "and settings that surprise people on a dedicated device",
              query_schema=SpaceQuerySchema, response_schema=schemas.FindingsSchema)
def lint_config(ctx: Context) -> dict[str, Any]:
    return resources.lint(ctx.args["space"], ctx.params["config_id"])


@router.route("GET", "/cosu-configs/<config_id>/policy",
              "The AMAPI policy this configuration compiles to (secrets masked), not pushed",
              query_schema=SpaceQuerySchema)
def compiled_policy(ctx: Context) -> dict[str, Any]:
    return resources.preview(ctx.args["space"], ctx.params["config_id"])


@router.route("GET", "/cosu-configs/<config_id>/devices",
              "The devices this configuration reaches (those on a policy compiled from it), "
              "as GET /commands/devices?configId= lists them",
              query_schema=SpaceListQuerySchema, response_schema=DeviceListSchema)
def config_devices(ctx: Context) -> dict[str, Any]:
    config = resources.find(resources.COSU, ctx.params["config_id"], ctx.args["space"])
    return inventory.devices_of_config(config.id, ctx.args["space"], ctx.args["pageSize"],
                                       ctx.args["pageToken"])


@router.route("GET", "/apps/<package_name>/feedback",
              "App feedback (keyed app states) aggregated over devices",
              query_schema=SpaceQuerySchema, response_schema=schemas.AppFeedbackSchema)
def feedback(ctx: Context) -> dict[str, Any]:
    app = resources.find(resources.APP, ctx.params["package_name"], ctx.args["space"])
    return app_feedback.aggregate(resources.visible_spaces_of(app),
                                  ctx.params["package_name"])


@router.route("POST", "/spaces", "Create a child space", success_status=201,
              request_schema=schemas.SpaceCreateSchema, response_schema=schemas.SpaceSchema)
def create_space(ctx: Context) -> Reply:
    return Reply(role_bindings.create_space(ctx.body(schemas.SpaceCreateSchema())), 201)


@router.route("GET", "/spaces", "The spaces the caller can read")
def list_spaces(ctx: Context) -> dict[str, Any]:
    return role_bindings.list_spaces()


@router.route("POST", "/role-bindings", "Grant a role in a space", success_status=201,
              request_schema=schemas.RoleBindingCreateSchema,
              response_schema=schemas.RoleBindingSchema)
def grant_role(ctx: Context) -> Reply:
    return Reply(role_bindings.grant(ctx.body(schemas.RoleBindingCreateSchema())), 201)


@router.route("GET", "/role-bindings", "Role bindings of the spaces the caller can read",
              query_schema=SpaceListQuerySchema)
def list_role_bindings(ctx: Context) -> dict[str, Any]:
    return role_bindings.list_bindings(ctx.args["space"], ctx.args["pageSize"],
                                       ctx.args["pageToken"])


@router.route("DELETE", "/role-bindings/<binding_id>", "Revoke a role", success_status=204)
def revoke_role(ctx: Context) -> Reply:
    role_bindings.revoke(ctx.params["binding_id"])
    return Reply(None, 204)


@router.route("GET", "/audit-log", "Who changed what, and refused attempts (newest first)",
              query_schema=schemas.AuditQuerySchema)
def audit_log(ctx: Context) -> dict[str, Any]:
    return role_bindings.audit_log(ctx.args["space"], ctx.args["principal"],
                                   ctx.args["pageSize"], ctx.args["pageToken"])


functions_framework.errorhandler(HTTPException)(router.framework_error)


@functions_framework.http
def policy(request: Request) -> Response:
    return router.dispatch(request)
