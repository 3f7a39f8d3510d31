"""The effect of one notification and its receipt, in one Firestore commit.

Pub/Sub delivers at least once; the receipt (`notificationReceipts/<messageId>`) is written in
the same commit as the effect, so a redelivered message finds its receipt and changes nothing.
A status report of a known device needs none: report-time ordering already makes applying it
twice a no-op, so its device document is its own deduplication.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shared.store import app_feedback, devices, enrollment_profiles, notification_receipts
from shared.store.client import bounded, db, transact
from shared.store.errors import StoreContention, translate_module
from shared.store.keys import natural_key

OPERATION_RESULTS = "operationResults"
COMMANDS = "commands"
UNMATCHED_USAGE_LOGS = "unmatchedUsageLogs"
_ABSENT = object()
_UNSUPPORTED = object()
_SIMPLE_FIELD = re.compile(r"[_a-zA-Z][_a-zA-Z0-9]*")
_INT64 = range(-(2 ** 63), 2 ** 63)
# Bounds of the devices an instance remembers: the count, and their size as JSON (resident
# size is a few times that) within a function's default 256 MiB.
MAX_REMEMBERED_DEVICES = 50_000
MAX_REMEMBERED_BYTES = 16 * 1024 * 1024


class StaleDevice(StoreContention):
    """A device this instance remembered changed elsewhere: decide again on a fresh read."""


@dataclass
class DeviceWrite:
    """What one device notification changes."""

    device: dict[str, Any] = field(default_factory=dict)
    feedback: list[dict[str, Any]] | None = None  # None: the report carried no app states
    count_in_profile: str | None = None
    enrollment_token: str | None = None  # the token that enrolled the device counted


def seen(message_id: str) -> bool:
    """True when this message already had its effect."""
    return notification_receipts.get_receipt(message_id) is not None


def _receipt(transaction: Any, message_id: str, fields: dict[str, Any],
             now: datetime.datetime) -> None:
    ref = notification_receipts.receipt_ref(message_id)
    transaction.create(ref, {**fields, "receiveTime": now,
                             "expireTime": now + notification_receipts.RETENTION})


def _commit_guarded(batch: Any) -> list[Any] | None:
    """The batch's write results, or None when one of its preconditions failed."""
    from google.api_core import exceptions

    try:
        return list(batch.commit(**bounded()))
    except (exceptions.AlreadyExists, exceptions.Conflict, exceptions.FailedPrecondition,
            exceptions.Aborted, exceptions.NotFound):
        return None


class _Unencodable(Exception):
    """A value the lean commit does not encode: the client library's batch writes it."""


def _value_pb(value: Any, out: Any) -> None:
    """Encode a JSON-like value into a Firestore `Value` protobuf, as the library would."""
    if value is None:
        out.null_value = 0
    elif isinstance(value, bool):
        out.boolean_value = value
    elif isinstance(value, int) and value in _INT64:
        out.integer_value = value
    elif isinstance(value, float):
        out.double_value = value
    elif isinstance(value, str):
        out.string_value = value
    elif isinstance(value, dict):
        out.map_value.SetInParent()
        for key, item in value.items():
            if not isinstance(key, str):
                raise _Unencodable(key)
            _value_pb(item, out.map_value.fields[key])
    elif isinstance(value, list | tuple):
        out.array_value.SetInParent()
        for item in value:
            _value_pb(item, out.array_value.values.add())
    else:  # timestamps, sentinels, bytes...: rare here, left to the library
        raise _Unencodable(type(value).__name__)


class _LeanCommit:
    """One guarded single-document update sent as a raw protobuf on the client's channel.

    The hot path of status reports is one such update; the client library spends most of
    its CPU on a commit in proto-plus wrappers around the same protobuf. Anything this does
    not encode goes through the library instead.
    """

    def __init__(self, client: Any) -> None:
        from google.api_core.gapic_v1 import routing_header
        from google.cloud.firestore_v1.types import firestore as firestore_types

        self.client = client
        self.database = client._database_string
        self.metadata = [*client._rpc_metadata, routing_header.to_grpc_metadata(  # type: ignore[no-untyped-call]
            (("database", self.database),))]
        self.request_type = firestore_types.CommitRequest.pb()
        self.stub = client._firestore_api._transport.grpc_channel.unary_unary(
            "/google.firestore.v1.Firestore/Commit",
            request_serializer=self.request_type.SerializeToString,
            response_deserializer=firestore_types.CommitResponse.pb().FromString)

    def update(self, path: str, fields: dict[str, Any], update_time: Any) -> Any:
        """The new update time; None when the guard failed; _UNSUPPORTED to use the library."""
        import grpc
        from google.api_core import exceptions
        from google.api_core.datetime_helpers import DatetimeWithNanoseconds

        guard = getattr(update_time, "timestamp_pb", None)
        if guard is None or not all(_SIMPLE_FIELD.fullmatch(key) for key in fields):
            return _UNSUPPORTED
        request = self.request_type(database=self.database)
        write = request.writes.add()
        write.update.name = path
        try:
            for key, value in fields.items():
                _value_pb(value, write.update.fields[key])
        except _Unencodable:
            return _UNSUPPORTED
        write.update_mask.field_paths.extend(fields)
        write.current_document.update_time.CopyFrom(guard())
        limits = bounded()

        def call() -> Any:
            try:
                return self.stub(request, timeout=limits["timeout"], metadata=self.metadata)
            except grpc.RpcError as exc:
                raise exceptions.from_grpc_error(exc) from exc  # type: ignore[no-untyped-call]

        try:
            response = limits["retry"](call)()
        except (exceptions.FailedPrecondition, exceptions.NotFound, exceptions.Aborted):
            return None
        return DatetimeWithNanoseconds.from_timestamp_pb(  # type: ignore[no-untyped-call]
            response.write_results[0].update_time)


_lean: _LeanCommit | None = None


def _lean_commit(client: Any) -> _LeanCommit | None:
    """The lean commit of this client, or None when the library's internals are not as known."""
    global _lean
    if _lean is None or _lean.client is not client:
        try:
            _lean = _LeanCommit(client)
        except (AttributeError, ImportError, TypeError):
            return None
    return _lean


def _commit_with_receipt(batch: Any, message_id: str, receipt: dict[str, Any],
                         now: datetime.datetime) -> bool | None:
    """Commit an effect with its receipt: True when applied, False for a message already
    applied, None when a guard of the effect failed and the step must be redone."""
    _receipt(batch, message_id, receipt, now)
    if _commit_guarded(batch) is not None:
        return True
    # The receipt's absence is a precondition of the batch: no read for it up front.
    if notification_receipts.receipt_ref(message_id).get(**bounded()).exists:
        return False
    return None


def _feedback_digest(states: dict[str, dict[str, Any]]) -> str:
    """A fingerprint of a report's app states, stored on the device next to their ids."""
    canonical = json.dumps(states, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class DeviceRead:
    """A device document (or its absence) and the version it was read at."""

    data: dict[str, Any] | None
    update_time: Any
    remembered: bool = False  # from this instance's memory: a guess until a commit confirms it


def _weight(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), default=str))


class RecentDevices:
    """The last version of each device this instance read or wrote, least recently used first.

    A report of a device it remembers skips the read: its commit is guarded by the remembered
    update time, so a write by anyone else meanwhile (another instance, an administrator)
    fails the guard and the report is decided again on a fresh read. Nothing is trusted that
    a commit does not confirm, so memory only ever saves round trips.

    When most remembered versions turn out stale (many instances sharing the fleet's devices,
    each the last writer of few), guessing costs a failed commit more than reading would: the
    memory is then consulted only now and then, to notice when guessing pays again.
    """

    PROBE_EVERY = 16

    def __init__(self, max_devices: int = MAX_REMEMBERED_DEVICES,
                 max_bytes: int = MAX_REMEMBERED_BYTES) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[dict[str, Any], Any, int]] = OrderedDict()
        self._bytes = 0
        self._max_devices = max_devices
        self._max_bytes = max_bytes
        self._stale_ratio = 0.0
        self._lookups = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, name: str) -> DeviceRead | None:
        """The remembered version of a device, if any (and if guessing currently pays)."""
        with self._lock:
            self._lookups += 1
            if self._stale_ratio > 0.5 and self._lookups % self.PROBE_EVERY:
                return None
            entry = self._entries.get(name)
            if entry is None:
                return None
            self._entries.move_to_end(name)
            return DeviceRead(entry[0], entry[1], remembered=True)

    def remember(self, name: str, data: dict[str, Any], update_time: Any,
                 changed: dict[str, Any] | None = None) -> None:
        """Keep `data` at `update_time`; `changed` (the fields just written) spares a resize."""
        with self._lock:
            previous = self._entries.get(name)
            if previous is not None and previous[1] > update_time:
                return  # a slower reader must not replace a newer version
            if previous is not None and changed is not None:
                weight = previous[2] + sum(_weight(value) - _weight(previous[0].get(key))
                                           for key, value in changed.items())
            else:
                weight = _weight(data)
            self._drop(name)
            if weight > self._max_bytes // 4:
                return
            self._entries[name] = (data, update_time, weight)
            self._bytes += weight
            while len(self._entries) > self._max_devices or self._bytes > self._max_bytes:
                self._drop(next(iter(self._entries)))

    def confirmed(self, stale: bool) -> None:
        """Count one guarded commit made on a remembered version: whether it was stale."""
        with self._lock:
            self._stale_ratio += ((1.0 if stale else 0.0) - self._stale_ratio) / 32

    def forget(self, name: str) -> None:
        """Drop what is remembered of a device."""
        with self._lock:
            self._drop(name)

    def clear(self) -> None:
        """Forget every device."""
        with self._lock:
            self._entries.clear()
            self._bytes = 0
            self._stale_ratio = 0.0

    def _drop(self, name: str) -> None:
        entry = self._entries.pop(name, None)
        if entry is not None:
            self._bytes -= entry[2]


RECENT = RecentDevices()


def read_device(device_name: str) -> DeviceRead:
    """Read a device once, for both the decisions and the guarded write that follows."""
    snapshot = db().collection(devices.COLLECTION).document(
        devices.device_id(device_name)).get(**bounded())
    if not snapshot.exists:
        RECENT.forget(device_name)
        return DeviceRead(None, snapshot.update_time)
    data = snapshot.to_dict() or {}
    RECENT.remember(device_name, data, snapshot.update_time)
    return DeviceRead(data, snapshot.update_time)


def remembered_device(device_name: str) -> DeviceRead | None:
    """The version of a device this instance last read or wrote, without a read, if known."""
    return RECENT.get(device_name)


def apply_device(message_id: str, receipt: dict[str, Any] | None, device_name: str,
                 build: Callable[[dict[str, Any] | None], DeviceWrite],
                 now: datetime.datetime, first_read: DeviceRead | None = None,
                 attempts: int = 5) -> bool:
    """Apply `build(stored device)` with the receipt in one commit; False for a duplicate.

    Optimistic: one read and one guarded batch (the device's update time, the receipt's
    absence) instead of a transaction's three round trips; a concurrent change to the same
    device makes the batch fail and the whole step is redone on fresh data.

    Without a receipt (`receipt` None) `build` must be idempotent through the device itself:
    False then means the notification changed nothing. A remembered `first_read` that turns
    out stale raises StaleDevice, for the caller to decide again on a fresh read.
    """
    client = db()
    device_ref = client.collection(devices.COLLECTION).document(devices.device_id(device_name))
    unmatched_ref = client.collection(UNMATCHED_USAGE_LOGS).document(natural_key(device_name))
    read = first_read
    for _ in range(attempts):
        read = read or read_device(device_name)
        current = read.data
        write = build(current)
        batch = client.batch()
        update_time: Any = _UNSUPPORTED
        if write.feedback is not None:
            # App feedback mirrors the newest report: states it no longer carries are gone.
            fresh = {app_feedback.state_id(s["deviceId"], s["packageName"], s["key"]): s
                     for s in write.feedback}
            digest = _feedback_digest(fresh)
            # Most reports repeat the app states of the one before: rewriting them would cost
            # a write per state per report for nothing.
            if (current or {}).get("feedbackDigest") != digest:
                for stale in set((current or {}).get("feedbackIds") or []) - set(fresh):
                    batch.delete(client.collection(app_feedback.COLLECTION).document(stale))
                for state_id, state in fresh.items():
                    batch.set(client.collection(app_feedback.COLLECTION).document(state_id),
                              state)
            write.device["feedbackIds"] = sorted(fresh)
            write.device["feedbackDigest"] = digest
        if current is None:
            # Pub/Sub reorders: usage logs that came before the device join it now.
            aside = unmatched_ref.get(**bounded())
            if aside.exists:
                write.device["usageEvents"] = (aside.to_dict() or {}).get("usageEvents") or []
                batch.delete(unmatched_ref,
                             option=client.write_option(last_update_time=aside.update_time))
            device_write = len(batch)
            batch.create(device_ref, write.device)
            changed = write.device
        else:
            # Only what differs from the version the guard names: a status report mostly
            # repeats the stored projection, and every field written costs the commit its
            # index entries.
            changed = {key: value for key, value in write.device.items()
                       if current.get(key, _ABSENT) != value}
            if not changed and receipt is None and not read.remembered:
                # Nothing to change in the version just read: as if applied at that read.
                return False
            # With nothing to change, a no-op field still carries the guard (of the receipt,
            # or of a remembered version, which only a commit can confirm).
            device_write = len(batch)
            guarded = changed or {"name": device_name}
            # A status report's usual commit is the guarded device update alone: sent lean.
            lean = (_lean_commit(client) if not device_write and receipt is None
                    and not write.count_in_profile else None)
            if lean is not None:
                update_time = lean.update(device_ref._document_path, guarded, read.update_time)
            if update_time is _UNSUPPORTED:
                batch.update(device_ref, guarded,
                             option=client.write_option(last_update_time=read.update_time))
        if write.count_in_profile:
            profile_ref = client.collection(enrollment_profiles.COLLECTION).document(
                write.count_in_profile)
            profile = profile_ref.get(**bounded())
            if profile.exists:
                batch.update(profile_ref, *_profile_count(profile, write.enrollment_token, now))
        if receipt is not None:
            _receipt(batch, message_id, receipt, now)
        if update_time is _UNSUPPORTED:
            results = _commit_guarded(batch)
            update_time = None if results is None else results[device_write].update_time
        if read.remembered:
            RECENT.confirmed(stale=update_time is None)
        if update_time is not None:
            RECENT.remember(device_name, {**(current or {}), **changed}, update_time,
                            changed if current is not None else None)
            return receipt is not None or bool(changed)
        if receipt is not None and notification_receipts.receipt_ref(
                message_id).get(**bounded()).exists:
            # The receipt's absence is a precondition of the batch: no read for it up front.
            return False
        if read.remembered:
            RECENT.forget(device_name)
            raise StaleDevice(f"device {device_name} changed since this instance wrote it")
        read = None
    raise StoreContention(f"device {device_name} kept changing; Pub/Sub will redeliver")


def _profile_count(profile: Any, token_name: str | None,
                   now: datetime.datetime) -> tuple[dict[str, Any], Any]:
    """The profile update counting one enrolled device, and its write option.

    A one-time profile whose current token enrolled the device is spent: it turns USED in the
    same write, guarded by the version read, so that a validity edit that issued a fresh token
    meanwhile fails the batch (and the step is redone) instead of being marked USED. A device
    of an older token only counts. Counts alone are unguarded: concurrent enrollments on one
    profile must not contend.
    """
    from google.cloud import firestore

    data = profile.to_dict() or {}
    count: dict[str, Any] = {"enrolledDevices": firestore.Increment(1)}
    if (data.get("oneTimeOnly") and token_name is not None
            and (data.get("token") or {}).get("name") == token_name
            and data.get("status") != "USED"):
        return ({**count, "status": "USED", "updateTime": now},
                db().write_option(last_update_time=profile.update_time))
    return count, None


def apply_operation(message_id: str, receipt: dict[str, Any], operation_name: str,
                    outcome: dict[str, Any], now: datetime.datetime, attempts: int = 5) -> bool:
    """Settle the command of `operation_name`, or keep the outcome until it is recorded.

    Optimistic, like `apply_device`: the command is found by a plain query (a query inside a
    transaction locked the commands every new request writes) and changed by a batch guarded
    by its update time and the receipt's absence; a conflict redoes the step on fresh data.
    """
    from google.cloud.firestore import FieldFilter

    client = db()
    result_ref = client.collection(OPERATION_RESULTS).document(natural_key(operation_name))
    query = client.collection(COMMANDS).where(
        filter=FieldFilter("operationName", "==", operation_name)).limit(1)
    for _ in range(attempts):
        found = list(query.stream(**bounded()))
        batch = client.batch()
        # The outcome is kept either way: the command side reads it when it records the
        # operation name after this notification (the race AMAPI's speed makes possible).
        batch.set(result_ref, {"operationName": operation_name, **outcome, "receiveTime": now})
        if found and (found[0].to_dict() or {}).get("state") not in (
                "SUCCEEDED", "FAILED", "EXPIRED", "CANCELLED"):
            batch.update(found[0].reference, {**outcome, "updateTime": now},
                         option=client.write_option(last_update_time=found[0].update_time))
        committed = _commit_with_receipt(batch, message_id, receipt, now)
        if committed is not None:
            return committed
    raise StoreContention(f"the command of {operation_name} kept changing; Pub/Sub will "
                           "redeliver")


def unmatched_usage_logs(device_name: str) -> dict[str, Any] | None:
    """Usage logs kept aside for a device the inventory did not know, if any."""
    snapshot = db().collection(UNMATCHED_USAGE_LOGS).document(
        natural_key(device_name)).get(**bounded())
    return snapshot.to_dict() if snapshot.exists else None


def apply_usage_logs(message_id: str, receipt: dict[str, Any], device_name: str,
                     merge: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
                     now: datetime.datetime) -> bool:
    """Merge usage-log events into the device's bounded list, with the receipt.

    Logs of a device the inventory does not know are kept aside in `unmatchedUsageLogs`
    (bounded the same way, expiring like receipts): writing them onto the device would create
    an inventory record with nothing but usage events.
    """
    from google.cloud import firestore

    client = db()
    receipt_ref = notification_receipts.receipt_ref(message_id)
    device_ref = client.collection(devices.COLLECTION).document(devices.device_id(device_name))
    unmatched_ref = client.collection(UNMATCHED_USAGE_LOGS).document(natural_key(device_name))

    @firestore.transactional
    def run(transaction: Any) -> bool:
        snapshots = {s.reference.path: s
                     for s in transaction.get_all([receipt_ref, device_ref, unmatched_ref])}
        if snapshots[receipt_ref.path].exists:
            return False
        device = snapshots[device_ref.path]
        if device.exists:
            stored = device.to_dict() or {}
            transaction.set(device_ref,
                            {"usageEvents": merge(stored.get("usageEvents") or [])},
                            merge=True)
        else:
            aside = snapshots[unmatched_ref.path].to_dict() or {}
            transaction.set(unmatched_ref, {
                "device": device_name, "reason": "device not in the inventory",
                "usageEvents": merge(aside.get("usageEvents") or []), "updateTime": now,
                "expireTime": now + notification_receipts.RETENTION * 4})
        _receipt(transaction, message_id, receipt, now)
        return True

    result: bool = transact(run)
    return result


translate_module(__name__)
