"""Function `commands` (HTTP): device inventory and device actions.

Also hosts the scheduled target `reconcile_commands`, deployed as its own function.
"""

import functions_framework
from flask import Request, Response
from werkzeug.exceptions import HTTPException

from shared.errors import Unimplemented
from shared.http import Context, Router

router = Router("amapi-cosu commands", "Device inventory and device commands "
                "(lock, reboot, sync, wipe and more).")
reconcile = Router("amapi-cosu reconcile_commands",
                   "Scheduled target: re-send pending commands and settle stale ones.")


@reconcile.route("POST", "/", "Re-send pending commands and settle unanswered ones")
def run_reconciliation(ctx: Context) -> dict:
    raise Unimplemented("command reconciliation ships with device commands")


functions_framework.errorhandler(HTTPException)(router.framework_error)


@functions_framework.http
def commands(request: Request) -> Response:
    return router.dispatch(request)


@functions_framework.http
def reconcile_commands(request: Request) -> Response:
    return reconcile.dispatch(request)
