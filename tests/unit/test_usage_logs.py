"""Merging a device's usage logs, over a recorded USAGE_LOGS Pub/Sub message."""

import random

from shared.notifications.handlers import MAX_USAGE_EVENTS, merge_usage_events
from shared.notifications.messages import decode, resource_name
from tests.conftest import fixture_json


def batch():
    notification = decode(fixture_json("pubsub_usage_logs.json"))
    assert notification.problem is None and notification.notification_type == "USAGE_LOGS"
    assert resource_name(notification) == "enterprises/LC00tests/devices/3a1f9c0e7b2d4c58"
    assert notification.payload is not None
    return notification.payload["usageLogEvents"]


def test_events_are_kept_by_id_time_and_type_only():
    assert merge_usage_events([], batch()) == [
        {"eventId": "7301", "eventTime": "2026-03-09T10:01:12.004Z",
         "eventType": "KEYGUARD_DISMISSED"},
        {"eventId": "7302", "eventTime": "2026-03-09T10:02:40.518Z",
         "eventType": "APP_PROCESS_START"},
        {"eventId": "7303", "eventTime": "2026-03-09T10:09:55.771Z", "eventType": "CONNECT"}]


def test_a_redelivered_batch_changes_nothing():
    once = merge_usage_events([], batch())
    assert merge_usage_events(once, batch()) == once


def test_the_order_of_delivery_does_not_matter():
    events = batch()
    first, second = events[:1], events[1:]
    assert (merge_usage_events(merge_usage_events([], second), first)
            == merge_usage_events(merge_usage_events([], first), second))


def test_events_without_an_id_are_dropped():
    events = [*batch(), {"eventTime": "2026-03-09T10:10:00Z", "eventType": "CONNECT"}, "junk"]
    assert len(merge_usage_events([], events)) == 3


def test_only_the_newest_events_are_kept():
    template = batch()[0]
    events = [{**template, "eventId": str(i), "eventTime": f"2026-03-09T10:{i // 60:02d}:"
               f"{i % 60:02d}Z"} for i in range(MAX_USAGE_EVENTS + 40)]
    random.Random(7).shuffle(events)
    kept = merge_usage_events(events[:70], events[70:])
    assert len(kept) == MAX_USAGE_EVENTS
    assert [e["eventId"] for e in kept] == [str(i) for i in range(40, MAX_USAGE_EVENTS + 40)]
