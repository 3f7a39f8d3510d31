"""The CRUD of COSU configurations, catalog apps, Wi-Fi and VPN configurations.

They share one life cycle: take the push leases of the spaces the resource reaches, read it,
validate, push what the change does to devices' policies (`push.apply_change`), then
store the resource guarded by the version read. Only the checks that involve other resources
differ by kind: unique COSU names per space, one always-on VPN per device, an app kept while
configurations use it. Every item is found by its id alone (an app by its package name, unique
across the catalog), from its own space or from a space it is delegated to.
"""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from shared import errors
from shared.access import roles
from shared.clock import rfc3339, utcnow
from shared.pagination import paginate
from shared.policy import kiosk_lint, push_plan, rollouts, schemas, staged_rollouts
from shared.policy.compiler import (
    PolicyInputError,
    mask_managed_configuration,
    mask_secrets,
    unmask_managed_configuration,
)
from shared.policy.effective_policy import PolicyChoice, SpaceInputs
from shared.policy.kiosk_lint import overlap
from shared.policy.push import (
    Pushed,
    affected_spaces,
    apply_change,
    compile_choice,
    load_space,
    serialized,
    with_change,
)
from shared.representation import check_if_match, etag_of, loaded
from shared.store import configurations
from shared.store.keys import natural_key, new_id
from shared.store.versioned import ChangedConcurrently, Stored

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
        """Apps are unique across the catalog by package name; the others get a fresh id."""
        if self.keyed_by_package:
            # Derived from the package alone, so Firestore refuses a second one in any space.
            return natural_key("app", body["packageName"])
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
# Nested objects whose selector decides which of their other fields are allowed.
_VARIANTS = {"distribution": ("mode", schemas.DISTRIBUTION_TARGETS),
             "systemUpdate": ("type", ("window",)),
             "privateDns": ("mode", ("host",))}


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
    if "managedConfiguration" in shown:
        shown["managedConfiguration"] = mask_managed_configuration(
            shown["managedConfiguration"], _secret_keys(kind, data))
    return shown


def _secret_keys(kind: Kind, data: dict[str, Any]) -> list[str]:
    """The keys an app lists as secrets; a VPN configuration's are those of its VPN app."""
    if kind is APP:
        return list(data.get("secretKeys") or [])
    if kind is VPN:
        app = _app_by_package(str(data.get("packageName", "")))
        return list((app.data.get("secretKeys") or []) if app else [])
    return []


def represent(kind: Kind, stored: Stored, delegated: bool = False) -> dict[str, Any]:
    """The API representation: secrets masked or left out, times in RFC 3339, an etag; a
    change a staged rollout is pushing is shown beside it (`pendingChange`)."""
    data = {k: v for k, v in stored.data.items() if k != "pendingChange"}
    body = _plain(_without_secrets(kind, data))
    body["id"] = stored.data.get("packageName") if kind.keyed_by_package else stored.id
    body["etag"] = etag_of(stored.id, body["updateTime"])
    if delegated:
        body["delegated"] = True
    pending = stored.data.get("pendingChange")
    if isinstance(pending, dict):
        staged = represent(kind, Stored(stored.id, pending["data"]))
        body["pendingChange"] = {"rolloutId": pending["rolloutId"],
                                 "staged": {k: v for k, v in staged.items()
                                            if k not in ("id", "etag")}}
    return dict(body)


def _app_by_package(package: str) -> Stored | None:
    found = configurations.with_package(configurations.APPS, package)
    return min(found, key=lambda s: s.id) if found else None


def _lookup(kind: Kind, resource: str) -> Stored | None:
    if kind.keyed_by_package:
        return _app_by_package(resource)
    return configurations.get(kind.collection, resource)


def _reached_spaces(stored: Stored) -> list[str]:
    return [str(stored.data.get("space")), *(stored.data.get("delegatedSpaces") or [])]


def find(kind: Kind, resource: str, space: str | None = None,
         needed: int = roles.VIEWER) -> Stored:
    """The stored resource of this id, in whatever space; 404 unless the caller can see it.

    A resource is seen from its own space and from the spaces it is delegated to; changing it
    takes `needed` in its own space (403 for a caller who sees it but may not). A `space` given
    must be one of those spaces.
    """
    caller = roles.current()
    stored = _lookup(kind, resource)
    not_found = errors.NotFound(f"no {kind.label} {resource!r}"
                                + (f" in space {space!r}" if space else ""))
    if stored is None:
        raise not_found
    reached = _reached_spaces(stored)
    if space is not None and space not in reached:
        raise not_found
    own = reached[0]
    if caller.level(own) >= roles.VIEWER:
        caller.require(own, needed)
        return stored
    seen_from = [s for s in reached[1:] if caller.level(s) >= roles.VIEWER]
    if not seen_from:
        raise not_found
    caller.touched.append(seen_from[0])
    if needed > roles.VIEWER:
        raise errors.PermissionDenied(
            f"this {kind.label} is delegated to you from space {own!r}: only that space's "
            "administrators may change it")
    return stored


def visible_spaces_of(stored: Stored) -> list[str]:
    """The spaces a resource reaches (its own, delegated ones) that the caller can read."""
    caller = roles.current()
    return [s for s in _reached_spaces(stored) if caller.level(s) >= roles.VIEWER]


def get(kind: Kind, space: str | None, resource: str) -> dict[str, Any]:
    """One resource, found by its id alone."""
    stored = find(kind, resource, space)
    return represent(kind, stored, _only_delegated(stored))


def _only_delegated(stored: Stored) -> bool:
    return roles.current().level(str(stored.data.get("space"))) < roles.VIEWER


def list_page(kind: Kind, space: str | None, size: int, token: str | None) -> dict[str, Any]:
    """One page of the resources of a space or of every space the caller can read, with those
    delegated to them (marked `delegated` when the caller sees them only that way)."""
    spaces = roles.current().spaces_for_list(space)

    def fetch(limit: int, after: str | None) -> list[Stored]:
        if spaces is None:
            return configurations.page(kind.collection, None, limit, after)
        return configurations.page_reaching(kind.collection, spaces, limit, after)

    return paginate(kind.list_key, f"{kind.collection}|space={space or ''}", size, token,
                    fetch, lambda stored: stored.id,
                    lambda stored: represent(kind, stored, _only_delegated(stored)))


def create(kind: Kind, body: dict[str, Any], staging: dict[str, Any] | None = None,
           validate_only: bool = False, strict: bool = False) -> dict[str, Any]:
    """Validate, push, store; 409 when an app's package is already in the catalog.

    With a `staging` plan, the resource is stored reaching nobody, with what it will be as its
    pending change, and a staged rollout pushes it stage by stage (`_stage`). `validate_only`:
    the checks and the plan only (`_preview`). A COSU configuration's answer carries the kiosk
    linter's findings (`strict`: an ERROR among them refuses the change).
    """
    space = body["space"]
    roles.require(space, roles.ADMIN)
    with _held(affected_spaces(space, body), validate_only):
        now = utcnow()
        stored = Stored(kind.resource_id(space, body), {**body, "createTime": now,
                                                        "updateTime": now})
        if kind.keyed_by_package:
            _refuse_package_taken(body["packageName"], space)
        inputs = _validate(kind, None, stored)
        findings = _findings(kind, stored, inputs, strict)
        if validate_only:
            return _preview(kind, space, None, stored, inputs, staging is not None, findings)[0]
        if staging is not None:
            return _with_findings(_stage(kind, None, stored, staging), findings)

        def store(also: Callable[[Any], None] | None) -> None:
            batch = configurations.write_batch()
            configurations.stage_create(batch, kind.collection, stored.id, stored.data)
            if also is not None:
                also(batch)
            try:
                configurations.commit(batch)
            except configurations.AlreadyStored:
                if kind.keyed_by_package:
                    _refuse_package_taken(body["packageName"], space)
                raise errors.AlreadyExists(f"this {kind.label} already exists") from None

        shown = represent(kind, stored)
        pushed = apply_change(kind.name, space, None, stored, store, inputs,
                              _trigger(kind, shown))
    return _with_findings(_with_rollouts(shown, pushed), findings)


def _findings(kind: Kind, stored: Stored, inputs: SpaceInputs,
              strict: bool) -> list[dict[str, str]] | None:
    """What the kiosk linter finds in a COSU configuration as it would be stored (None for the
    other kinds); with `strict`, an ERROR among them is a 400 naming its field."""
    if kind is not COSU:
        return None
    found = kiosk_lint.lint(stored.id, stored.data, inputs)
    refused = [f for f in found if f.severity == kiosk_lint.ERROR]
    if strict and refused:
        raise errors.InvalidArgument(
            "the kiosk linter finds errors (strict=true): "
            + "; ".join(f"{f.field}: {f.message}" for f in refused[:3]),
            [errors.FieldViolation(f.field, f"{f.message}; fix: {f.fix}") for f in refused])
    return [f.as_json() for f in found]


def _with_findings(body: dict[str, Any],
                   findings: list[dict[str, str]] | None) -> dict[str, Any]:
    return body if findings is None else {**body, "findings": findings}


def lint(space: str | None, config_id: str) -> dict[str, Any]:
    """What the kiosk linter finds in a stored COSU configuration."""
    config = find(COSU, config_id, space)
    inputs = load_space(str(config.data["space"]))
    return {"findings": [f.as_json()
                         for f in kiosk_lint.lint(config.id, config.data, inputs)]}


def _refuse_package_taken(package: str, space: str) -> None:
    """409 when the catalog has `package` in any space, naming that space only to a caller
    who can see it."""
    taken = _app_by_package(package)
    if taken is None:
        return
    owner = str(taken.data.get("space"))
    if roles.current().level(owner) >= roles.VIEWER:
        where = (f"in space {owner!r}; delegate it to space {space!r} from there "
                 "(delegatedSpaces) instead of adding it again")
    else:
        where = (f"in a space you cannot see; ask its administrators to delegate it to "
                 f"space {space!r}")
    raise errors.AlreadyExists(f"{package} is already in the catalog {where}",
                               [errors.FieldViolation("packageName", "already in the catalog")])


def _held(spaces: set[str], validate_only: bool) -> contextlib.AbstractContextManager[Any]:
    """The push leases of `spaces`; none for a change only validated, which writes nothing."""
    return contextlib.nullcontext() if validate_only else serialized(spaces)


def _preview(kind: Kind, space: str, before: Stored | None, after: Stored | None,
             inputs: SpaceInputs, staged: bool,
             findings: list[dict[str, str]] | None = None
             ) -> tuple[dict[str, Any], push_plan.Plan]:
    """What the change would do (`?validateOnly=true`): its plan, from the planner the change
    itself uses, and the policy fields it changes, secrets masked; and that plan. Nothing is
    written."""
    from shared.policy import change_preview, push

    plan = push.plan_change(kind.name, space, before, after, inputs)
    shown = change_preview.preview(plan, change_preview.secret_keys_of(inputs),
                                   rollouts.inline_limit(), staged)
    return {**shown, "findings": findings or []}, plan


def _under_lease(kind: Kind, resource: str, space: str | None, also: dict[str, Any],
                 act: Callable[[Stored], T], validate_only: bool = False) -> T:
    """Run `act` on the resource as stored once the leases of every space it reaches are held.

    Every writer of a resource holds its own space's lease, so the version read under the
    leases is the latest and stays so until `act` is done: an etag checked there is checked
    against what AMAPI has. A change only validated takes no lease: it writes nothing.
    """
    if validate_only:
        return act(find(kind, resource, space, roles.ADMIN))
    first = find(kind, resource, space, roles.ADMIN)
    wanted = affected_spaces(first.data["space"], first, also)
    while True:
        with serialized(wanted):
            current = find(kind, resource, space, roles.ADMIN)
            needed = affected_spaces(current.data["space"], current, also)
            if needed <= wanted:
                return act(current)
        wanted |= needed  # delegated further meanwhile: take those spaces too


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396: `patch` merged into `target` (objects field by field, null removes)."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


def _merged(kind: Kind, current: Stored, changes: dict[str, Any]) -> dict[str, Any]:
    """The stored resource with the merge patch `changes` applied, validated whole as a
    creation would be."""


    stored = _plain({k: v for k, v in current.data.items()
                     if k not in _TIMES and k != "pendingChange"})
    if kind is WIFI and "security" in changes:
        # A new security mode needs its own secret: the old one is never carried over.
        stored.pop("passphrase", None)
        stored.pop("eap", None)
    for name, (selector, dependents) in _VARIANTS.items():
        given, before = changes.get(name), stored.get(name)
        if (isinstance(given, dict) and isinstance(before, dict) and selector in given
                and given[selector] != before.get(selector)):
            # Another mode brings its own settings: the old mode's are not carried over.
            stored[name] = {k: v for k, v in before.items() if k not in dependents}
    merged = merge_patch(stored, changes)
    if "managedConfiguration" in changes and isinstance(merged.get("managedConfiguration"),
                                                        dict):
        keys = (merged.get("secretKeys") or []) if kind is APP else _secret_keys(kind, merged)
        try:
            merged["managedConfiguration"] = unmask_managed_configuration(
                merged["managedConfiguration"], stored.get("managedConfiguration"), keys)
        except PolicyInputError as exc:
            raise errors.InvalidArgument.field(exc.field, exc.reason) from None
    return loaded("change", lambda: kind.schema().load(merged))


def update(kind: Kind, space: str | None, resource: str, changes: dict[str, Any],
           if_match: str | None, staging: dict[str, Any] | None = None,
           validate_only: bool = False, strict: bool = False) -> dict[str, Any]:
    """Merge `changes` (RFC 7396) into the resource, push, store; 412 on a stale etag.

    With a `staging` plan (`RolloutPlanSchema`), the change is stored beside the resource and
    a staged rollout pushes it stage by stage (`_stage`).
    """

    def act(current: Stored) -> dict[str, Any]:
        check_if_match(if_match, represent(kind, current)["etag"])
        after, inputs, findings = _validated_change(kind, current, changes, strict)
        data = after.data
        own = str(current.data["space"])
        if validate_only:
            return _preview(kind, own, current, after, inputs, staging is not None, findings)[0]
        if staging is not None:
            return _with_findings(_stage(kind, current, after, staging), findings)

        def store(also: Callable[[Any], None] | None) -> None:
            _commit_guarded(kind, lambda batch: configurations.stage_replace(
                batch, kind.collection, current, data), also)

        shown = represent(kind, after)
        pushed = apply_change(kind.name, own, current, after, store, inputs,
                              _trigger(kind, shown))
        return _with_findings(_with_rollouts(shown, pushed), findings)

    return _under_lease(kind, resource, space, changes, act, validate_only)


def _validated_change(kind: Kind, current: Stored, changes: dict[str, Any], strict: bool
                      ) -> tuple[Stored, SpaceInputs, list[dict[str, str]] | None]:
    """The resource as `changes` would leave it, checked in its space's inputs (which it
    returns with the change in them), and the linter's findings; 400/409/412 when refused."""
    staged_rollouts.refuse_while_pending(current.data, kind.label)
    data = {**_merged(kind, current, changes), "createTime": current.data["createTime"],
            "updateTime": utcnow()}
    after = Stored(current.id, data, current.update_time)
    inputs = _validate(kind, current, after)
    return after, inputs, _findings(kind, after, inputs, strict)


def _stage(kind: Kind, current: Stored | None, after: Stored,
           plan: dict[str, Any]) -> dict[str, Any]:
    """Store `after` as the resource's pending change and start the staged rollout of it.

    A resource created this way is stored reaching nobody (distribution NONE) until promoted;
    a rollback deletes it.
    """
    from shared.policy import push

    own = str(after.data["space"])
    if affected_spaces(own, current, after) != {own}:
        raise errors.InvalidArgument.field(
            "rollout", f"a staged rollout covers the devices of one space, and this "
            f"{kind.label} reaches others (delegatedSpaces): change it without stages, or "
            "stop delegating it first")
    staged_rollouts.refuse_unknown_devices(plan, own)
    rollout_id = staged_rollouts.new_rollout_id()
    pending = {"rolloutId": rollout_id, "data": after.data}
    if current is None:
        stored = {**after.data, "distribution": {"mode": "NONE"}, "pendingChange": pending}

        def store(also: Callable[[Any], None] | None) -> None:
            batch = configurations.write_batch()
            configurations.stage_create(batch, kind.collection, after.id, stored)
            if also is not None:
                also(batch)
            try:
                configurations.commit(batch)
            except configurations.AlreadyStored:
                raise errors.AlreadyExists(f"this {kind.label} already exists") from None
    else:
        stored = {**current.data, "pendingChange": pending}

        def store(also: Callable[[Any], None] | None) -> None:
            _commit_guarded(kind, lambda batch: configurations.stage_pending(
                batch, kind.collection, current, pending), also)

    resource = {"kind": kind.name, "collection": kind.collection, "id": after.id,
                **({"created": True} if current is None else {})}
    started = push.stage_change(own, rollout_id, plan, _trigger(kind, represent(kind, after)),
                                resource, store)
    return {**represent(kind, Stored(after.id, stored)), "rollout": rollouts.represent(started)}


def delete(kind: Kind, space: str | None, resource: str, if_match: str | None,
           validate_only: bool = False) -> dict[str, Any] | None:
    """Push the removal, then delete; 412 naming the configurations of an app still in use.

    None when the removal was pushed before the reply, else `{"rollout": ...}`; with
    `validate_only`, what the removal would do (`_preview`).
    """

    def act(current: Stored) -> dict[str, Any] | None:
        check_if_match(if_match, represent(kind, current)["etag"])
        staged_rollouts.refuse_while_pending(current.data, kind.label)
        own = str(current.data["space"])
        inputs = with_change(load_space(own), kind.name, current, None)
        if kind is APP:
            _refuse_app_in_use(current, _reached_spaces(current), own, inputs)
        if validate_only:
            return _preview(kind, own, current, None, inputs, False)[0]

        def store(also: Callable[[Any], None] | None) -> None:
            _commit_guarded(kind, lambda batch: configurations.stage_delete(
                batch, kind.collection, current), also)

        pushed = apply_change(kind.name, own, current, None, store, inputs,
                              _trigger(kind, represent(kind, current)))
        return _with_rollouts({}, pushed) if pushed.rollouts else None

    return _under_lease(kind, resource, space, {}, act, validate_only)


def _trigger(kind: Kind, shown: dict[str, Any]) -> dict[str, Any]:
    """What a rollout says it pushes: the resource and the version of it that was stored."""
    return {"kind": rollouts.KINDS[kind.name], "id": shown["id"], "etag": shown["etag"]}


def _with_rollouts(shown: dict[str, Any], pushed: Pushed) -> dict[str, Any]:
    """The response body: the resource, with the rollout pushing it when there is one."""
    if pushed.rollouts:
        shown = {**shown, "rollout": rollouts.represent(pushed.rollouts[0])}
        if len(pushed.rollouts) > 1:
            shown["rollouts"] = [rollouts.represent(r) for r in pushed.rollouts]
    return shown


def _commit_guarded(kind: Kind, stage: Callable[[Any], None],
                    also: Callable[[Any], None] | None = None) -> None:
    """Write one staged change (and what `also` adds); 412 when the resource changed since it
    was read."""
    batch = configurations.write_batch()
    stage(batch)
    if also is not None:
        also(batch)
    try:
        configurations.commit(batch)
    except ChangedConcurrently:
        raise errors.FailedPrecondition(
            f"the {kind.label} changed meanwhile: fetch it and retry") from None


def _validate(kind: Kind, before: Stored | None, stored: Stored) -> SpaceInputs:
    """Refuse conflicts with other resources, then compile the resource on its own, so that
    bad references fail before any push. The caller holds the leases of the spaces it reaches."""
    space = stored.data["space"]
    inputs = with_change(load_space(space), kind.name, before, stored)
    if kind is COSU:
        _refuse_duplicate_name(before, stored)
        compile_choice(PolicyChoice(config_id=stored.id), inputs)
    elif kind is VPN:
        _refuse_overlapping_vpn(stored, inputs)
        compile_choice(PolicyChoice(config_id=None, vpn_id=stored.id), inputs)
    elif kind is WIFI:
        compile_choice(PolicyChoice(config_id=None, wifi_ids=(stored.id,)), inputs)
    else:
        if before is not None:
            dropped = [s for s in before.data.get("delegatedSpaces") or []
                       if s not in (stored.data.get("delegatedSpaces") or [])]
            _refuse_app_in_use(before, dropped, space, inputs)
        compile_choice(PolicyChoice(config_id=None, app_ids=(stored.data["packageName"],)),
                       inputs)
    return inputs


def _refuse_duplicate_name(before: Stored | None, stored: Stored) -> None:
    """409 when another COSU configuration of the space has this name (in any case)."""
    name = str(stored.data["name"])
    if before is not None and str(before.data["name"]).casefold() == name.casefold():
        return
    for other in configurations.in_space(configurations.COSU, stored.data["space"]):
        if other.id != stored.id and str(other.data.get("name", "")).casefold() == name.casefold():
            raise errors.AlreadyExists(
                f"space {stored.data['space']!r} already has a COSU configuration named "
                f"{other.data['name']!r} ({other.id})",
                [errors.FieldViolation("name", "already used in this space")])


def _refuse_overlapping_vpn(vpn: Stored, inputs: SpaceInputs) -> None:
    """409 naming the always-on VPN configuration that already reaches the same devices, in the
    VPN's own space or in any space it is delegated to (a device has one always-on VPN)."""
    own = str(vpn.data["space"])
    for target in _reached_spaces(vpn):
        others = inputs.vpn if target == own else load_space(target).vpn
        for other in sorted(others.values(), key=lambda s: s.id):
            if other.id != vpn.id and overlap(vpn.data.get("distribution"),
                                               other.data.get("distribution")):
                raise errors.AlreadyExists(
                    f"the always-on VPN configuration {other.data['name']!r} ({other.id}) "
                    f"already reaches these devices in space {target!r}: a device has one "
                    "always-on VPN; narrow one of the distributions",
                    [errors.FieldViolation("distribution", f"overlaps {other.id}")])


def _refuse_app_in_use(app: Stored, spaces: list[str], own: str, inputs: SpaceInputs) -> None:
    """412 naming the COSU and VPN configurations that would lose `app` in `spaces`."""
    package = app.data["packageName"]
    users: list[str] = []
    for target in sorted(set(spaces)):
        loaded_inputs = inputs if target == own else load_space(target)
        # A change a rollout is staging counts too: its canaries compile it now.
        for seen in filter(None, (loaded_inputs, loaded_inputs.staged)):
            users += [f"COSU configuration {c.data['name']!r} ({c.id}, space "
                      f"{c.data['space']!r})" for c in seen.configs.values()
                      if package in push_plan.kiosk_packages(c.data)]
            users += [f"VPN configuration {v.data['name']!r} ({v.id}, space "
                      f"{v.data['space']!r})" for v in seen.vpn.values()
                      if v.data.get("packageName") == package]
    if users:
        raise errors.FailedPrecondition(
            f"{package} is used by {', '.join(sorted(set(users)))}: change those first")


def preview(space: str | None, config_id: str) -> dict[str, Any]:
    """The policy a COSU configuration compiles to with the apps, Wi-Fi and VPN sent to all,
    secrets masked."""
    config = find(COSU, config_id, space)
    inputs = load_space(str(config.data["space"]))

    def to_all(items: dict[str, Stored]) -> list[str]:
        return sorted(k for k, s in items.items()
                      if (s.data.get("distribution") or {}).get("mode") == "ALL")

    vpns = to_all(inputs.vpn)
    choice = PolicyChoice(config_id, tuple(to_all(inputs.apps)), tuple(to_all(inputs.wifi)),
                          vpns[0] if vpns else None)
    secret_keys = {package: list(app.data.get("secretKeys") or [])
                   for package, app in inputs.apps.items()}
    return dict(mask_secrets(compile_choice(choice, inputs), secret_keys))


def preview_with_plan(kind: Kind, resource: str, changes: dict[str, Any], strict: bool = False
                      ) -> tuple[dict[str, Any], push_plan.Plan]:
    """What `update(…, validate_only=True)` answers for this change, and the plan behind it:
    which devices move and which policies are patched, by name (nothing is written)."""
    current = find(kind, resource, None, roles.ADMIN)
    after, inputs, findings = _validated_change(kind, current, changes, strict)
    return _preview(kind, str(current.data["space"]), current, after, inputs, False, findings)
