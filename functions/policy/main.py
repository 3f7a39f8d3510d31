"""Function `policy` (HTTP): COSU configurations, app catalog, Wi-Fi and VPN, compiled to AMAPI."""

import functions_framework
from flask import Request, Response
from werkzeug.exceptions import HTTPException

from shared.http import Router

router = Router("amapi-cosu policy", "Dedicated-device (COSU) configurations, the app "
                "catalog, Wi-Fi and always-on VPN, compiled into AMAPI policies.")


functions_framework.errorhandler(HTTPException)(router.framework_error)


@functions_framework.http
def policy(request: Request) -> Response:
    return router.dispatch(request)
