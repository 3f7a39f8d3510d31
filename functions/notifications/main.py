"""Function `notifications` (CloudEvent): AMAPI device notifications from Pub/Sub."""

import flask
import functions_framework
from cloudevents.exceptions import GenericException
from cloudevents.http import CloudEvent
from werkzeug.exceptions import HTTPException

from shared.access import roles
from shared.notifications import intake


@functions_framework.cloud_event
def notifications(cloud_event: CloudEvent) -> None:
    with roles.as_system():
        intake.receive(cloud_event.data, source=str(cloud_event.get("source") or ""))


@functions_framework.errorhandler(HTTPException)
def acknowledge_unparseable(exc: HTTPException) -> flask.Response | HTTPException:
    # A body that is neither a CloudEvent nor a Pub/Sub push would be redelivered forever.
    if flask.request.method == "POST" and exc.code is not None and 400 <= exc.code < 500:
        with roles.as_system():
            intake.keep_unparseable(flask.request.get_data())
        return flask.Response(status=204)
    return exc


@functions_framework.errorhandler(GenericException)
@functions_framework.errorhandler(RecursionError)
def acknowledge_undecodable(exc: Exception) -> flask.Response:
    # The same bytes fail the same way on every redelivery (a CloudEvent whose data is not
    # JSON, JSON nested too deeply to parse): keep them and acknowledge.
    with roles.as_system():
        intake.keep_unparseable(
            flask.request.get_data(), f"request could not be decoded: {type(exc).__name__}")
    return flask.Response(status=204)
