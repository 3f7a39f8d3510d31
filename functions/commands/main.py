"""Function `commands` (HTTP): device inventory and device actions.

Also hosts the scheduled target `reconcile_commands`, deployed as its own function.
"""

import datetime
from collections.abc import Iterator
from typing import Any

import functions_framework
from flask import Request, Response
from werkzeug.exceptions import HTTPException

from shared import errors, logs
from shared.access import roles
from shared.clock import utcnow
from shared.config import settings
from shared.devices import commands as device_commands
from shared.devices import inventory, ownership, schemas
from shared.http.router import Context, Reply, Router
from shared.pagination import ListQuerySchema
from shared.policy.schemas import ChangePreviewSchema
from shared.query_params import ValidateOnlyQuerySchema

router = Router("amapi-cosu commands", "Device inventory and device commands "
                "(lock, reboot, sync, wipe and more).")
reconcile = Router("amapi-cosu reconcile_commands",
                   "Scheduled target: re-send pending commands, settle unanswered ones, and "
                   "resume rollouts whose worker message was lost.")
SETTLE_AFTER = datetime.timedelta(minutes=2)
ROLLOUT_STALLED_AFTER = datetime.timedelta(minutes=2)


def _filters(ctx: Context) -> dict[str, Any]:
    return {name: ctx.args[name] for name in inventory.FILTERS if ctx.args[name] is not None}


@router.route("GET", "/devices", "List devices (filters: space, state, compliant, label, "
              "profileId, userName, serialNumber, imei, manufacturer, model, androidVersion, "
              "configId, policyName, enrollmentDecision; all combined)",
              query_schema=schemas.DeviceQuerySchema, response_schema=schemas.DeviceListSchema)
def list_devices(ctx: Context) -> dict[str, Any]:
    return inventory.list_devices(_filters(ctx), ctx.args["pageSize"], ctx.args["pageToken"])


EXPORT_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}


@router.route("GET", "/devices:export", "Export every device matching the list's filters "
              "(CSV or JSON Lines, streamed; a stream cut short by a failure ends without "
              "its last chunk, so clients see an incomplete download)",
              query_schema=schemas.DeviceExportQuerySchema, media_type="text/csv")
def export_devices(ctx: Context) -> Reply:
    # Refusals and a store that cannot be read surface here, before the 200 is sent; once
    # streaming has begun the status is gone, and a failure aborts the response instead
    # (never a silently short file that looks complete).
    fmt = ctx.args["format"]
    lines = inventory.export(_filters(ctx), fmt)
    return Reply(_encoded(lines), content_type=EXPORT_TYPES[fmt], headers={
        "Content-Disposition": f'attachment; filename="devices.{fmt}"',
        "Cache-Control": "no-store"})


def _encoded(lines: Iterator[str], chunk: int = 64 * 1024) -> Iterator[bytes]:
    # Lines gathered into chunks of ~64 KiB: one write per line would cost a syscall each.
    buffered: list[bytes] = []
    size = 0
    try:
        for line in lines:
            buffered.append(line.encode("utf-8"))
            size += len(buffered[-1])
            if size >= chunk:
                yield b"".join(buffered)
                buffered, size = [], 0
    except Exception:
        logs.logger.error("device export cut short: the response is aborted", exc_info=True)
        raise
    if buffered:
        yield b"".join(buffered)


@router.route("GET", "/devices/<device_id>", "Device details",
              response_schema=schemas.DeviceSchema)
def get_device(ctx: Context) -> dict[str, Any]:
    return inventory.get_device(ctx.params["device_id"])


@router.route("PATCH", "/devices/<device_id>", "Change a device's labels, device user or space "
              "(may move it to another policy; a new space needs ADMIN of both)",
              request_schema=schemas.DevicePatchSchema,
              response_schema=schemas.DeviceSchema, query_schema=ValidateOnlyQuerySchema,
              preview_schema=ChangePreviewSchema)
def patch_device(ctx: Context) -> dict[str, Any]:
    # Access before the body: a hidden device is a 404 whatever the body says.
    device = inventory.existing(ctx.params["device_id"], roles.ADMIN)
    body = ctx.body(schemas.DevicePatchSchema())
    validate_only = bool(ctx.args["validateOnly"])
    if "userName" in body or "space" in body:
        return ownership.change_owner(device, body, validate_only)
    return inventory.set_labels(device, body["labels"], validate_only)


@router.route("POST", "/devices/<device_id>/commands", "Send a command (202: recorded first, "
              "settled by AMAPI's notification)", idempotent=True, success_status=202,
              request_schema=schemas.CommandRequestSchema, response_schema=schemas.CommandSchema)
def issue_command(ctx: Context) -> Reply:
    device = inventory.existing(ctx.params["device_id"], roles.OPERATOR)
    body = ctx.body(schemas.CommandRequestSchema())
    principal = ctx.principal.email if ctx.principal else ""
    command = device_commands.issue(device, body, principal)
    location = f"{ctx.request.script_root}/devices/{command['deviceId']}/commands/{command['id']}"
    return Reply(command, 202, {"Location": location})


@router.route("GET", "/devices/<device_id>/commands", "A device's command history",
              query_schema=ListQuerySchema, response_schema=schemas.CommandListSchema)
def command_history(ctx: Context) -> dict[str, Any]:
    return device_commands.history(ctx.params["device_id"], ctx.args["pageSize"],
                                   ctx.args["pageToken"])


@router.route("GET", "/devices/<device_id>/commands/<command_id>", "One command",
              response_schema=schemas.CommandSchema)
def get_command(ctx: Context) -> dict[str, Any]:
    return device_commands.get_command(ctx.params["device_id"], ctx.params["command_id"])


@reconcile.route("POST", "/", "Re-send pending commands, settle unanswered ones, resume "
                 "stalled rollouts, read the health gates of staged rollouts whose soak is over",
                 authorize=False,  # only SCHEDULER_PRINCIPALS may call it
                 request_schema=schemas.ReconcileRequestSchema,
                 response_schema=schemas.ReconcileResultSchema, operation_id="reconcileCommands")
def run_reconciliation(ctx: Context) -> dict[str, int]:
    # Only this scheduled target needs the rollouts.
    from shared.policy import rollouts, staged_rollouts

    body = (ctx.body(schemas.ReconcileRequestSchema())
            if ctx.request.get_data(cache=True).strip() else {})
    if "now" in body and not settings().emulated:
        raise errors.InvalidArgument.field("now", "is accepted only against the emulators")
    clock = body.get("now") or utcnow()  # the rollout clock: soaks end as of this moment
    now = utcnow()
    result = device_commands.reconcile(now, SETTLE_AFTER)
    result["rolloutsResumed"] = rollouts.resume_stalled(now, ROLLOUT_STALLED_AFTER)
    result["rolloutGatesRead"] = staged_rollouts.evaluate_due(clock)
    return result


functions_framework.errorhandler(HTTPException)(router.framework_error)


@functions_framework.http
def commands(request: Request) -> Response:
    return router.dispatch(request)


@functions_framework.http
def reconcile_commands(request: Request) -> Response:
    return reconcile.dispatch(request)
