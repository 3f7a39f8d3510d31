"""Function `rollouts` (CloudEvent): advances a background rollout when its message arrives."""

import logging

import flask
import functions_framework
from cloudevents.exceptions import GenericException
from cloudevents.http import CloudEvent
from werkzeug.exceptions import HTTPException

from shared import logs, pubsub
from shared.access import roles
from shared.config import settings
from shared.policy import rollout_worker

_KEPT = 300  # characters of a malformed delivery's reason and source worth a log line


@functions_framework.cloud_event
def rollouts(cloud_event: CloudEvent) -> None:
    source = str(cloud_event.get("source") or "")
    if not pubsub.from_topic(source, settings().rollout_topic):
        logs.log(logging.WARNING, "rollout message from an unexpected topic ignored",
                 source=source[:_KEPT])
        return
    message = pubsub.decode(cloud_event.data)
    rollout_id = message.payload.get("rolloutId")
    if not isinstance(rollout_id, str) or not rollout_id:
        raise pubsub.MalformedMessage("data has no rolloutId string")
    with roles.as_system():
        rollout_worker.run(message.payload)
    logs.log(logging.INFO, "rollout message handled", rolloutId=rollout_id[:_KEPT],
             messageId=message.message_id[:_KEPT])


@functions_framework.errorhandler(pubsub.MalformedMessage)
def acknowledge_malformed(exc: pubsub.MalformedMessage) -> flask.Response:
    # The same bytes fail the same way on every redelivery: log and acknowledge.
    logs.log(logging.WARNING, "malformed rollout message acknowledged",
             reason=str(exc)[:_KEPT], size=len(flask.request.get_data()))
    return flask.Response(status=204)


@functions_framework.errorhandler(HTTPException)
def acknowledge_unparseable(exc: HTTPException) -> flask.Response | HTTPException:
    # A body that is neither a CloudEvent nor a Pub/Sub push would be redelivered forever.
    if flask.request.method == "POST" and exc.code is not None and 400 <= exc.code < 500:
        logs.log(logging.WARNING, "unparseable rollout delivery acknowledged",
                 size=len(flask.request.get_data()))
        return flask.Response(status=204)
    return exc


@functions_framework.errorhandler(GenericException)
@functions_framework.errorhandler(RecursionError)
def acknowledge_undecodable(exc: Exception) -> flask.Response:
    # A CloudEvent whose data is not JSON fails the same way on every redelivery.
    logs.log(logging.WARNING, "undecodable rollout delivery acknowledged",
             reason=type(exc).__name__, size=len(flask.request.get_data()))
    return flask.Response(status=204)
