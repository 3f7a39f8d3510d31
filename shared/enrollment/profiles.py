"""Enrollment profiles: one AMAPI enrollment token each, with its QR code, user and attributes.

Nothing is stored when AMAPI fails, and no token outlives its profile: a token created for a
write that then fails is revoked, and a revocation AMAPI refuses waits in `tokenRevocations`
for the next `expire_tokens` run.
"""

from __future__ import annotations

import datetime
import json
import logging
from typing import Any

from shared import errors, logs
from shared.access import roles
from shared.amapi.client import amapi
from shared.amapi.errors import AmapiError
from shared.clock import parse_rfc3339, rfc3339, utcnow
from shared.enrollment import device_attributes
from shared.enrollment.device_users import directory
from shared.enterprise import enterprise_name
from shared.pagination import paginate
from shared.policy.holding_policy import holding_policy, holding_policy_name
from shared.representation import check_if_match, etag_of
from shared.store import enrollment_profiles as store
from shared.store import token_revocations
from shared.store.keys import new_id
from shared.store.versioned import ChangedConcurrently, Stored

ADDITIONAL_DATA_LIMIT = 1024
DEDICATED_DEVICE_USAGE = "PERSONAL_USAGE_DISALLOWED_USERLESS"


def additional_data(profile_id: str, space: str, user_name: str,
                    attributes: list[dict[str, str]]) -> str:
    """What the token carries to the notification handler (AMAPI's `additionalData`)."""
    return json.dumps({"profileId": profile_id, "space": space, "userName": user_name,
                       "attrs": {a["name"]: a["value"] for a in attributes}},
                      separators=(",", ":"), ensure_ascii=False)


def token_request(policy_name: str, validity_days: int, data: str,
                  one_time: bool = False) -> dict[str, Any]:
    """The AMAPI EnrollmentToken body of a profile."""
    return {"policyName": policy_name, "duration": f"{validity_days * 86400}s",
            "allowPersonalUsage": DEDICATED_DEVICE_USAGE, "oneTimeOnly": one_time,
            "additionalData": data}


def effective_status(data: dict[str, Any], now: datetime.datetime) -> str:
    """EXPIRED once the token's expiry has passed, even before expire_tokens marks it.

    USED (a one-time token spent) is stored by the enrollment that spent it, and stays: the
    token can enroll nothing more whatever its expiry.
    """
    if data["status"] == "ACTIVE" and data["tokenExpireTime"] <= now:
        return "EXPIRED"
    return str(data["status"])


def represent(profile: Stored, links_base: str,
              now: datetime.datetime | None = None) -> dict[str, Any]:
    """The profile summary of the API."""
    data = profile.data
    update_time = rfc3339(data["updateTime"])
    token = data["token"]
    base = f"{links_base}/enrollment-profiles/{profile.id}"
    return {
        "id": profile.id, "name": data["name"], "description": data.get("description", ""),
        "userName": data["userName"], "space": data["space"],
        "validityDays": data["validityDays"],
        "oneTimeOnly": bool(data.get("oneTimeOnly", False)),
        "status": effective_status(data, now or utcnow()),
        "customAttributes": data["customAttributes"],
        "token": {"name": token["name"], "value": token["value"],
                  "createTime": rfc3339(token["createTime"]),
                  "expireTime": rfc3339(data["tokenExpireTime"])},
        "qrCode": data["qrCode"],
        "qrImage": {"png": f"{base}/qr.png", "svg": f"{base}/qr.svg"},
        "enrolledDevices": data.get("enrolledDevices", 0),
        "createTime": rfc3339(data["createTime"]), "updateTime": update_time,
        "etag": etag_of(profile.id, update_time),
    }


def _issue_token(profile_id: str, space: str, user_name: str, attributes: list[dict[str, str]],
                 validity_days: int, one_time: bool, now: datetime.datetime) -> dict[str, Any]:
    """Upsert the space's holding policy, then create the token; returns the token fields."""
    data = additional_data(profile_id, space, user_name, attributes)
    if len(data) > ADDITIONAL_DATA_LIMIT:
        raise errors.InvalidArgument.field(
            "customAttributes", f"encoded attributes take {len(data)} characters; AMAPI's "
            f"additionalData holds at most {ADDITIONAL_DATA_LIMIT}")
    enterprise = enterprise_name()
    # AMAPI deletes policies no device used for 7 days; a token on a missing policy
    # factory-resets the device, so the policy is written right before the token.
    policy_name = holding_policy_name(enterprise, space)
    amapi().patch_policy(policy_name, holding_policy())
    token = amapi().create_enrollment_token(
        enterprise, token_request(policy_name, validity_days, data, one_time))
    return {"token": {"name": token["name"], "value": token["value"], "createTime": now},
            "tokenExpireTime": parse_rfc3339(token["expirationTimestamp"]),
            "qrCode": token["qrCode"], "policyName": policy_name}


def _revoke(token_name: str, reason: str) -> None:
    """Revoke a token now, or queue it for expire_tokens when AMAPI cannot take it."""
    try:
        amapi().delete_enrollment_token(token_name)
    except AmapiError as exc:
        token_revocations.add(token_name, reason, utcnow())
        logs.log(logging.WARNING, "token revocation queued", tokenName=token_name,
                 reason=reason, cause=type(exc).__name__)


def create_profile(body: dict[str, Any], links_base: str) -> dict[str, Any]:
    """Validate, create the AMAPI token, store the profile; all or nothing."""
    space, name = body["space"], body["name"]
    roles.require(space, roles.ADMIN)
    if directory.get(space, body["userName"]) is None:
        raise errors.InvalidArgument.field(
            "userName", f"{body['userName']!r} is not a device user of space {space!r}")
    attributes = device_attributes.resolve(space, body["customAttributes"])
    if store.name_taken(space, name):
        raise _name_taken(name, space)
    now = utcnow()
    profile_id = new_id()
    one_time = bool(body.get("oneTimeOnly", False))
    issued = _issue_token(profile_id, space, body["userName"], attributes,
                          body["validityDays"], one_time, now)
    document = {"name": name, "description": body.get("description", ""),
                "userName": body["userName"], "space": space,
                "validityDays": body["validityDays"], "oneTimeOnly": one_time,
                "status": "ACTIVE",
                "customAttributes": attributes, "enrolledDevices": 0,
                "createTime": now, "updateTime": now, **issued}
    try:
        store.create(profile_id, document)
    except store.NameTaken:
        _revoke(issued["token"]["name"], "profile name taken concurrently")
        raise _name_taken(name, space) from None
    except BaseException:
        _revoke(issued["token"]["name"], "profile could not be stored")
        raise
    logs.log(logging.INFO, "enrollment profile created", profileId=profile_id, space=space,
             validityDays=body["validityDays"], oneTimeOnly=one_time)
    return represent(Stored(profile_id, document, None), links_base, now)


def _name_taken(name: str, space: str) -> errors.AlreadyExists:
    return errors.AlreadyExists(f"an enrollment profile named {name!r} exists in {space!r}",
                                [errors.FieldViolation("name", "already used in this space")])


def _existing(profile_id: str, needed: int = roles.VIEWER) -> Stored:
    profile = store.get(profile_id)
    if profile is None:
        raise errors.NotFound(f"no enrollment profile {profile_id!r}")
    roles.require(profile.data["space"], needed)
    return profile


def _current_etag(profile: Stored) -> str:
    return etag_of(profile.id, rfc3339(profile.data["updateTime"]))


def get_profile(profile_id: str, links_base: str) -> dict[str, Any]:
    """The profile summary."""
    return represent(_existing(profile_id), links_base)


def list_profiles(space: str | None, status: str | None, size: int, token: str | None,
                  links_base: str) -> dict[str, Any]:
    """One page of profiles, oldest first."""
    now = utcnow()
    spaces = roles.current().spaces_for_list(space)
    return paginate("enrollmentProfiles",
                    f"enrollmentProfiles|space={space or ''}|status={status or ''}", size, token,
                    lambda limit, after: store.page(spaces, status, limit, after),
                    lambda profile: profile.id,
                    lambda profile: represent(profile, links_base, now))


def for_change(profile_id: str) -> Stored:
    """A profile the caller may change; 404 when it cannot see it, 403 when it may only read."""
    return _existing(profile_id, roles.ADMIN)


def change_validity(profile: Stored, validity_days: int, if_match: str | None,
                    links_base: str) -> dict[str, Any]:
    """A fresh token valid `validity_days` from now; the old one revoked; status ACTIVE.

    `profile` comes from `for_change`; the update fails if it changed since that read. A
    one-time profile gets a fresh one-time token: renewing a USED profile enrolls one more
    device.
    """
    check_if_match(if_match, _current_etag(profile))
    data = profile.data
    now = utcnow()
    issued = _issue_token(profile.id, data["space"], data["userName"],
                          data["customAttributes"], validity_days,
                          bool(data.get("oneTimeOnly", False)), now)
    changes = {**issued, "validityDays": validity_days, "status": "ACTIVE", "updateTime": now}
    try:
        store.update(profile, changes)
    except ChangedConcurrently:
        _revoke(issued["token"]["name"], "profile changed concurrently")
        raise errors.FailedPrecondition(
            "the profile changed while its token was renewed: fetch it and retry") from None
    except BaseException:
        _revoke(issued["token"]["name"], "profile could not be stored")
        raise
    _revoke(data["token"]["name"], "replaced by a validity edit")
    logs.log(logging.INFO, "enrollment profile renewed", profileId=profile.id,
             validityDays=validity_days)
    return represent(Stored(profile.id, {**data, **changes}, None), links_base, now)


def delete_profile(profile_id: str, if_match: str | None) -> None:
    """Revoke the token in AMAPI, then delete the profile; enrolled devices stay managed.

    Once the token is revoked the profile must go too, or it would show a dead QR code: a
    profile that changed meanwhile (an enrollment counted) is deleted all the same. Only a
    validity edit that won the race (a new, live token) keeps it, with a 412.
    """
    profile = _existing(profile_id, roles.ADMIN)
    check_if_match(if_match, _current_etag(profile))
    revoked = profile.data["token"]["name"]
    amapi().delete_enrollment_token(revoked)  # one already gone counts as revoked
    try:
        store.delete(profile)
    except ChangedConcurrently:
        if store.delete_with_token(profile_id, revoked) == "renewed":
            raise errors.FailedPrecondition(
                "the profile was renewed while it was being deleted: fetch it and "
                "retry") from None
    logs.log(logging.INFO, "enrollment profile deleted", profileId=profile.id)


def qr_text(profile_id: str) -> str:
    """The text of the profile's QR code; 412 once the token has expired or been used."""
    profile = _existing(profile_id)
    status = effective_status(profile.data, utcnow())
    if status == "USED":
        raise errors.FailedPrecondition(
            "the profile's one-time token has enrolled its device: renew it with a validity "
            "edit first")
    if status != "ACTIVE":
        raise errors.FailedPrecondition(
            "the profile's token has expired: renew it with a validity edit first")
    return str(profile.data["qrCode"])
