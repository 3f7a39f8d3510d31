"""MCP tools on configurations, rollouts and the audit log."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from shared import errors
from shared.access import role_bindings, roles
from shared.mcp.enrollment_tools import page_fields, space_field
from shared.mcp.tools import READ, Hints, Invocation, Output, Plan, Tool
from shared.policy import configurations as resources
from shared.policy import push_plan, rollouts
from shared.policy.change_preview import SAMPLE_DEVICES, changed_fields
from shared.policy.schemas import ROLLOUT_STATES


class ConfigRequest(Schema):
    """One COSU configuration."""

    configId = fields.String(required=True, validate=validate.Length(min=1, max=200))


ListConfigsRequest = Schema.from_dict({"space": space_field(), **page_fields()},
                                      name="ListConfigsRequest")


class UpdateConfigRequest(ConfigRequest):
    """A change to a COSU configuration."""

    changes = fields.Dict(keys=fields.String(), required=True, metadata={
        "description": "a JSON merge patch (RFC 7396) of the configuration, as PATCH "
                       "/policy/cosu-configs/{id} takes: nested objects merge, null removes"})
    strict = fields.Boolean(load_default=False, metadata={
        "description": "refuse the change when the kiosk linter finds an ERROR"})


class RolloutRequest(Schema):
    """One rollout."""

    rolloutId = fields.String(required=True, validate=validate.Length(min=1, max=200))


ListRolloutsRequest = Schema.from_dict({
    "space": space_field(), "state": fields.String(validate=validate.OneOf(ROLLOUT_STATES)),
    **page_fields()}, name="ListRolloutsRequest")

AuditRequest = Schema.from_dict({
    "space": space_field(),
    "principal": fields.Email(metadata={"description": "only this caller's entries"}),
    **page_fields()}, name="AuditRequest")


def list_cosu_configs(call: Invocation) -> Output:
    """COSU configurations of the visible spaces."""
    args = call.arguments
    return Output(resources.list_page(resources.COSU, args.get("space"), args["pageSize"],
                                      args.get("pageToken")))


def get_cosu_config(call: Invocation) -> Output:
    """One COSU configuration with what the kiosk linter finds in it."""
    config_id = call.arguments["configId"]
    found = resources.get(resources.COSU, None, config_id)
    return Output({**found, **resources.lint(None, config_id)})


def _changes(call: Invocation) -> dict[str, Any]:
    changes = dict(call.arguments["changes"])
    if "rollout" in changes:
        # A staged rollout holds the change beside the configuration for days, behind health
        # gates an administrator watches: that stays with the HTTP API, not an agent's call.
        raise errors.InvalidArgument.field(
            "changes.rollout", "staged rollouts are started over the HTTP API (PATCH "
            "/policy/cosu-configs/{id} with a rollout plan), not through MCP")
    return changes


def _devices_reached(plan: push_plan.Plan, spaces: set[str]) -> list[str]:
    """The devices whose AMAPI policy a plan changes: those it moves, and those staying on a
    policy whose content it changes (each device once)."""
    from shared.store import devices, effective_policies

    patched = {update.name for update in plan.policies if update.previous is not None
               and changed_fields(update.previous.get("policy") or {}, update.policy)}
    groups = [key for space in sorted(spaces)
              for key, record in effective_policies.in_space(space).items()
              if record.get("name") in patched]
    reached = {move.device_name for move in plan.moves}
    reached |= {str(device["name"]) for device in devices.on_groups(groups)} if groups else set()
    return sorted(reached)


def plan_config_update(call: Invocation) -> Plan:
    """What a change would do, and how many devices it would reach."""
    args = call.arguments
    changes = _changes(call)
    stored = resources.find(resources.COSU, args["configId"], None, roles.ADMIN)
    preview, plan = resources.preview_with_plan(resources.COSU, args["configId"], changes,
                                                strict=bool(args["strict"]))
    delegated = changes.get("delegatedSpaces")
    spaces = {str(stored.data["space"]), *(stored.data.get("delegatedSpaces") or []),
              *(str(s) for s in (delegated if isinstance(delegated, list) else []))}
    reached = _devices_reached(plan, spaces)
    etag = resources.represent(resources.COSU, stored)["etag"]
    summary = {"action": "UPDATE_COSU_CONFIG", "devicesAffected": len(reached),
               "devices": [name.rsplit("/", 1)[-1] for name in reached[:SAMPLE_DEVICES]],
               **preview}
    return Plan(summary, etag, needed=len(reached) > 1)


def update_cosu_config(call: Invocation) -> Output:
    """Apply the change (confirmed first when it reaches more than one device)."""
    args = call.arguments
    stored = resources.find(resources.COSU, args["configId"], None, roles.ADMIN)
    etag = resources.represent(resources.COSU, stored)["etag"]
    changed = resources.update(resources.COSU, None, args["configId"], _changes(call), etag,
                               strict=bool(args["strict"]))
    return Output(changed, resource=f"/policy/cosu-configs/{stored.id}")


def get_rollout(call: Invocation) -> Output:
    """One rollout and its progress."""
    return Output(rollouts.get(call.arguments["rolloutId"]))


def list_rollouts(call: Invocation) -> Output:
    """Rollouts of the visible spaces, newest first."""
    args = call.arguments
    return Output(rollouts.list_page(args.get("space"), args.get("state"), args["pageSize"],
                                     args.get("pageToken")))


def list_audit_log(call: Invocation) -> Output:
    """Who changed what, and refused attempts, newest first."""
    args = call.arguments
    return Output(role_bindings.audit_log(args.get("space"), args.get("principal"),
                                          args["pageSize"], args.get("pageToken")))


TOOLS = (
    Tool("list_cosu_configs", "List COSU configurations",
         "Dedicated-device configurations of the visible spaces (and those delegated to "
         "them): pinned app, lockdown, kiosk, system updates, priority and distribution.",
         ListConfigsRequest, READ, list_cosu_configs),
    Tool("get_cosu_config", "Get a COSU configuration",
         "One COSU configuration, with the kiosk linter's findings (ways out of the pinned "
         "app, surprising settings).", ConfigRequest, READ, get_cosu_config),
    Tool("update_cosu_config", "Change a COSU configuration",
         "Changes a COSU configuration with a JSON merge patch and pushes it to its devices "
         "(a change needing more AMAPI calls than the inline limit is stored at once and "
         "pushed by a rollout, see get_rollout). A change that reaches more than one device "
         "takes two calls: the first answers the plan (devices affected, AMAPI calls, each "
         "policy field changed, findings) and a confirmationToken. Staged rollouts (the HTTP "
         "API's `rollout` field) cannot be started here: changes.rollout is refused. ADMIN of "
         "its space.",
         UpdateConfigRequest, Hints(read_only=False, destructive=False, idempotent=True),
         update_cosu_config, plan=plan_config_update),
    Tool("get_rollout", "Get a rollout",
         "A rollout's state, progress, stages and health gates, and failures.",
         RolloutRequest, READ, get_rollout),
    Tool("list_rollouts", "List rollouts", "Rollouts of the visible spaces.",
         ListRolloutsRequest, READ, list_rollouts),
    Tool("list_audit_log", "Read the audit log",
         "Who changed what, and refused attempts, newest first (entries made through MCP say "
         "via: mcp).", AuditRequest, READ, list_audit_log),
)
