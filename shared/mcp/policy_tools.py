"""MCP tools on configurations, rollouts and the audit log."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from shared.access import role_bindings, roles
from shared.mcp.enrollment_tools import page_fields, space_field
from shared.mcp.tools import READ, Hints, Invocation, Output, Plan, Tool
from shared.policy import configurations as resources
from shared.policy import rollouts
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
    changes.pop("rollout", None)  # staging stays with the HTTP API and its administrators
    return changes


def plan_config_update(call: Invocation) -> Plan:
    """What a change would do, and how many devices it would reach."""
    from shared.store import devices, effective_policies

    args = call.arguments
    stored = resources.find(resources.COSU, args["configId"], None, roles.ADMIN)
    preview = resources.update(resources.COSU, None, args["configId"], _changes(call), None,
                               validate_only=True, strict=bool(args["strict"]))
    changed = {entry["policy"] for entry in preview["diff"]}
    groups = [key for key, record in effective_policies.in_space(
        str(stored.data["space"])).items() if record.get("name") in changed]
    reached = devices.count_on_groups(groups) + preview["plan"]["devicesMoved"]
    etag = resources.represent(resources.COSU, stored)["etag"]
    summary = {"action": "UPDATE_COSU_CONFIG", "devicesAffected": reached, **preview}
    return Plan(summary, etag, needed=reached > 1)


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
         "(or starts a rollout when large). A change that reaches more than one device takes "
         "two calls: the first answers the plan (policies, devices, AMAPI calls, each policy "
         "field changed, findings) and a confirmationToken. ADMIN of its space.",
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
