"""Function `notifications` (CloudEvent): AMAPI device notifications from Pub/Sub."""

import functions_framework
from cloudevents.http import CloudEvent

from shared import notification_intake


@functions_framework.cloud_event
def notifications(cloud_event: CloudEvent) -> None:
    notification_intake.receive(cloud_event.data, source=cloud_event["source"])
