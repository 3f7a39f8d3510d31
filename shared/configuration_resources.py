"""The CRUD of COSU configurations, catalog apps, Wi-Fi and VPN configurations.

They share one life cycle: take the push leases of the spaces the resource reaches, read it,
validate, push what the change does to devices' policies (`policy_push.apply_change`), then
store the resource guarded by the version read. Only the checks that involve other resources
differ, and they are passed in.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from shared import access, errors
from shared import policy_schemas as schemas
from shared.clock import rfc3339, utcnow
from shared.effective_policy import PolicyChoice, SpaceInputs
from shared.http import check_if_match, etag_of
from shared.pagination import paginate
from shared.policy_push import (
    affected_spaces,
    apply_change,
    compile_choice,
    load_space,
    serialized,
    with_change,
)
from shared.store import configurations
from shared.store.keys import natural_key, new_id
from shared.store.versioned import ChangedConcurrently, Stored

Check = Callable[[SpaceInputs, Stored], None]
T = TypeVar("T")


@dataclass(frozen=True)
class Kind:
    """One kind of configuration resource."""

    name: str
    collection: str
    label: str
    list_key: str
    schema: Callable[[], Any]
    secret_fields: tuple[str, ...] = ()
    keyed_by_package: bool = False

    def resource_id(self, space: str, body: dict[str, Any]) -> str:
        """Apps are unique per (space, package); the others get a fresh id."""
        if self.keyed_by_package:
            return natural_key(space, body["packageName"])
        return new_id()


COSU = Kind("cosu", configurations.COSU, "COSU configuration", "cosuConfigs",
            schemas.CosuConfigCreateSchema)
APP = Kind("app", configurations.APPS, "app", "apps", schemas.AppCreateSchema,
           keyed_by_package=True)
WIFI = Kind("wifi", configurations.WIFI, "Wi-Fi configuration", "wifiConfigs",
            schemas.WifiConfigCreateSchema, secret_fields=("passphrase", "eap.password"))
VPN = Kind("vpn", configurations.VPN, "VPN configuration", "vpnConfigs",
           schemas.VpnConfigCreateSchema)
_TIMES = ("createTime", "updateTime")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return rfc3339(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _without_secrets(kind: Kind, data: dict[str, Any]) -> dict[str, Any]:
    shown = dict(data)
    for path in kind.secret_fields:
        head, _, tail = path.partition(".")
        if tail and isinstance(shown.get(head), dict):
            shown[head] = {k: v for k, v in shown[head].items() if k != tail}
        elif not tail:
            shown.pop(head, None)
    if kind is WIFI:
        shown["hasPassphrase"] = bool(data.get("passphrase"))
        if isinstance(shown.get("eap"), dict):
            shown["eap"]["hasPassword"] = bool((data.get("eap") or {}).get("password"))
    return shown


def represent(kind: Kind, stored: Stored) -> dict[str, Any]:
    """The API representation: secrets left out, times in RFC 3339, an etag."""
    body = _plain(_without_secrets(kind, stored.data))
    body["id"] = stored.data.get("packageName") if kind.keyed_by_package else stored.id
    body["etag"] = etag_of(stored.id, body["updateTime"])
    return dict(body)


def _resource_id(kind: Kind, space: str, resource: str) -> str:
    return natural_key(space, resource) if kind.keyed_by_package else resource


def existing(kind: Kind, space: str, resource: str, needed: int = access.VIEWER) -> Stored:
    """The stored resource the caller may act on, or 404 (403 when its role is too low)."""
    access.require(space, needed)
    stored = configurations.get(kind.collection, _resource_id(kind, space, resource))
    if stored is None or stored.data.get("space") != space:
        raise errors.NotFound(f"no {kind.label} {resource!r} in space {space!r}")
    return stored


def get(kind: Kind, space: str, resource: str) -> dict[str, Any]:
    """One resource."""
    return represent(kind, existing(kind, space, resource))


def list_page(kind: Kind, space: str | None, size: int, token: str | None) -> dict[str, Any]:
    """One page of the resources of a space, or of every space the caller can read."""
    spaces = access.current().spaces_for_list(space)
    return paginate(kind.list_key, f"{kind.collection}|space={space or ''}", size, token,
                    lambda limit, after: configurations.page(kind.collection, spaces, limit,
                                                             after),
                    lambda stored: stored.id, lambda stored: represent(kind, stored))


def create(kind: Kind, body: dict[str, Any], check: Check | None = None) -> dict[str, Any]:
    """Validate, push, store; 409 when an app's package is already in the catalog."""
    space = body["space"]
    access.require(space, access.ADMIN)
    with serialized(affected_spaces(space, body)):
        now = utcnow()
        stored = Stored(kind.resource_id(space, body), {**body, "createTime": now,
                                                        "updateTime": now})
        if kind.keyed_by_package and configurations.get(kind.collection, stored.id):
            raise errors.AlreadyExists(
                f"{body['packageName']} is already in the catalog",
                [errors.FieldViolation("packageName", "already in catalog")])
        inputs = _validate(kind, stored, check)

        def store() -> None:
            batch = configurations.write_batch()
            configurations.stage_create(batch, kind.collection, stored.id, stored.data)
            try:
                configurations.commit(batch)
            except configurations.AlreadyStored:
                raise errors.AlreadyExists(f"this {kind.label} already exists") from None

        apply_change(kind.name, space, None, stored, store, inputs)
    return represent(kind, stored)


def _under_lease(kind: Kind, space: str, resource: str, also: dict[str, Any],
                 act: Callable[[Stored], T]) -> T:
    """Run `act` on the resource as stored once the leases of every space it reaches are held.

    Every writer of a resource holds its own space's lease, so the version read under the
    leases is the latest and stays so until `act` is done: an etag checked there is checked
    against what AMAPI has.
    """
    wanted = affected_spaces(space, existing(kind, space, resource, access.ADMIN), also)
    while True:
        with serialized(wanted):
            current = existing(kind, space, resource, access.ADMIN)
            needed = affected_spaces(space, current, also)
            if needed <= wanted:
                return act(current)
        wanted |= needed  # delegated further meanwhile: take those spaces too


def _merged(kind: Kind, current: Stored, changes: dict[str, Any]) -> dict[str, Any]:
    """The stored resource with `changes` applied, validated whole as a creation would be."""
    from marshmallow import ValidationError

    from shared.http import violations

    merged = {k: v for k, v in current.data.items() if k not in _TIMES}
    if kind is WIFI and "security" in changes:
        # A new security mode needs its own secret: the old one is never carried over.
        merged.pop("passphrase", None)
        merged.pop("eap", None)
    merged.update(changes)
    try:
        loaded: dict[str, Any] = kind.schema().load(_plain(merged))
    except ValidationError as exc:
        found = violations(exc.messages)
        raise errors.InvalidArgument(
            "invalid change: " + "; ".join(f"{v.field}: {v.reason}" for v in found[:5]),
            found) from None
    return loaded


def update(kind: Kind, space: str, resource: str, changes: dict[str, Any],
           if_match: str | None, check: Check | None = None) -> dict[str, Any]:
    """Apply `changes` (top-level fields replaced whole), push, store; 412 on a stale etag."""

    def act(current: Stored) -> dict[str, Any]:
        check_if_match(if_match, represent(kind, current)["etag"])
        data = {**_merged(kind, current, changes), "createTime": current.data["createTime"],
                "updateTime": utcnow()}
        after = Stored(current.id, data, current.update_time)
        inputs = _validate(kind, after, check)

        def store() -> None:
            _commit_guarded(kind, lambda batch: configurations.stage_replace(
                batch, kind.collection, current, data))

        apply_change(kind.name, space, current, after, store, inputs)
        return represent(kind, after)

    return _under_lease(kind, space, resource, changes, act)


def delete(kind: Kind, space: str, resource: str, if_match: str | None,
           check: Check | None = None) -> None:
    """Push the removal, then delete; `check` may refuse (e.g. an app still in use)."""

    def act(current: Stored) -> None:
        check_if_match(if_match, represent(kind, current)["etag"])
        inputs = with_change(load_space(space), kind.name, current, None)
        if check is not None:
            check(inputs, current)

        def store() -> None:
            _commit_guarded(kind, lambda batch: configurations.stage_delete(
                batch, kind.collection, current))

        apply_change(kind.name, space, current, None, store, inputs)

    _under_lease(kind, space, resource, {}, act)


def _commit_guarded(kind: Kind, stage: Callable[[Any], None]) -> None:
    """Write one staged change; 412 when the resource changed since it was read."""
    batch = configurations.write_batch()
    stage(batch)
    try:
        configurations.commit(batch)
    except ChangedConcurrently:
        raise errors.FailedPrecondition(
            f"the {kind.label} changed meanwhile: fetch it and retry") from None


def _validate(kind: Kind, stored: Stored, check: Check | None) -> SpaceInputs:
    """Compile the resource on its own, so that bad references fail before any push."""
    space = stored.data["space"]
    inputs = with_change(load_space(space), kind.name, None, stored)
    if check is not None:
        check(inputs, stored)
    if kind is COSU:
        compile_choice(PolicyChoice(config_id=stored.id), inputs)
    elif kind is VPN:
        compile_choice(PolicyChoice(config_id=None, vpn_id=stored.id), inputs)
    elif kind is WIFI:
        compile_choice(PolicyChoice(config_id=None, wifi_ids=(stored.id,)), inputs)
    else:
        compile_choice(PolicyChoice(config_id=None, app_ids=(stored.data["packageName"],)),
                       inputs)
    return inputs


def preview(space: str, config_id: str) -> dict[str, Any]:
    """The policy a COSU configuration compiles to with the apps, Wi-Fi and VPN sent to all."""
    from shared.policy_compiler import mask_secrets

    existing(COSU, space, config_id)
    inputs = load_space(space)

    def to_all(items: dict[str, Stored]) -> list[str]:
        return sorted(k for k, s in items.items()
                      if (s.data.get("distribution") or {}).get("mode") == "ALL")

    vpns = to_all(inputs.vpn)
    choice = PolicyChoice(config_id, tuple(to_all(inputs.apps)), tuple(to_all(inputs.wifi)),
                          vpns[0] if vpns else None)
    return dict(mask_secrets(compile_choice(choice, inputs)))


def app_in_use(inputs: SpaceInputs, app: Stored) -> None:
    """Refuse to remove an app a COSU configuration pins or a VPN configuration runs."""
    package = app.data["packageName"]
    users = [c.data["name"] for c in inputs.configs.values()
             if c.data.get("app", {}).get("packageName") == package]
    users += [v.data["name"] for v in inputs.vpn.values() if v.data["packageName"] == package]
    if users:
        raise errors.FailedPrecondition(
            f"{package} is used by {', '.join(sorted(users))}: change those first")
