"""Function `enroll` (HTTP): enrollment profiles, device users, attributes, enrollment rules.

Also hosts the scheduled target `expire_tokens`, deployed as its own function.
"""

import functions_framework
from flask import Request, Response
from werkzeug.exceptions import HTTPException

from shared.errors import Unimplemented
from shared.http import Context, Router

router = Router("amapi-cosu enroll", "Enrollment profiles, device users, custom device "
                "attributes and enrollment rules for dedicated Android devices.")
expiry = Router("amapi-cosu expire_tokens", "Scheduled target: expire enrollment tokens.")


@expiry.route("POST", "/", "Mark expired enrollment profiles and revoke their tokens")
def run_token_expiry(ctx: Context) -> dict:
    raise Unimplemented("token expiry ships with enrollment profiles")


functions_framework.errorhandler(HTTPException)(router.framework_error)


@functions_framework.http
def enroll(request: Request) -> Response:
    return router.dispatch(request)


@functions_framework.http
def expire_tokens(request: Request) -> Response:
    return expiry.dispatch(request)
