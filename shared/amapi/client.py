"""`Amapi`: one method per AMAPI verb the suite uses, each retried and classified.

The googleapiclient service is built lazily, per thread (httplib2 is not thread-safe), from the
discovery document bundled with google-api-python-client: no discovery fetch, no network at
import. `AMAPI_ENDPOINT` points it at the local emulator; left empty it talks to Google with
Application Default Credentials.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from shared import logs
from shared.amapi import budget
from shared.amapi.errors import (
    AmapiError,
    AmapiNotFound,
    AmapiQuotaExhausted,
    AmapiUnavailable,
    classify,
    status_of,
)
from shared.config import Settings, settings
from shared.retry import RetryPolicy

SCOPE = "https://www.googleapis.com/auth/androidmanagement"

# Scheduled runs come back every few minutes: a call that would need more than a moment of
# backoff is cheaper left for the next run than paid for with the run's (and the quota's) time.
BACKGROUND_RETRY = RetryPolicy(budget_seconds=1.0, base_seconds=0.2, max_seconds=0.5)
# After this long a run starts no AMAPI call: its deployed timeout (cloudbuild.yaml) is this,
# one call in flight and the run's Firestore writes.
BACKGROUND_RUN_SECONDS = 120.0


@dataclass
class BackgroundRun:
    """One scheduled run's calls; `throttled` once AMAPI answered one of them with 429."""

    deadline: float
    throttled: bool = False
    skipped: int = 0  # calls not made: the run was throttled or its time was spent


_background: contextvars.ContextVar[BackgroundRun | None] = contextvars.ContextVar(
    "amapi_background", default=None)


@contextlib.contextmanager
def amapi_background(run_seconds: float = BACKGROUND_RUN_SECONDS) -> Iterator[BackgroundRun]:
    """Calls inside fail fast: the tiny `BACKGROUND_RETRY` budget, no retry after a 429, and
    no call at all once the run was throttled (the quota is the project's) or its
    `run_seconds` are spent; what is not called is left for the next run."""
    run = BackgroundRun(deadline=time.monotonic() + run_seconds)
    token = _background.set(run)
    try:
        yield run
    finally:
        _background.reset(token)


def _refuse_if_spent(run: BackgroundRun, method: str) -> None:
    if run.throttled:
        run.skipped += 1
        raise AmapiQuotaExhausted(method, "throttled earlier in this run: left for the next",
                                  never_executed=True)
    if time.monotonic() >= run.deadline:
        run.skipped += 1
        raise AmapiUnavailable(method, "this run's time is spent: left for the next",
                               never_executed=True)


def build_service(config: Settings) -> Any:
    """A googleapiclient `androidmanagement v1` service from the bundled discovery document."""
    import httplib2
    from googleapiclient import discovery

    http = httplib2.Http(timeout=config.amapi_timeout_seconds)
    if config.amapi_endpoint:
        return discovery.build("androidmanagement", "v1", http=http, static_discovery=True,
                               cache_discovery=False,
                               client_options={"api_endpoint": config.amapi_endpoint})
    import google.auth
    import google_auth_httplib2

    credentials, _ = google.auth.default(scopes=[SCOPE])
    authorized = google_auth_httplib2.AuthorizedHttp(credentials, http=http)
    return discovery.build("androidmanagement", "v1", http=authorized, static_discovery=True,
                           cache_discovery=False)


class _Collections:
    """A googleapiclient resource whose sub-collections (`enterprises()`, `devices()`) are built
    once: building one creates every method it has from the discovery document, which cost
    more CPU than the rest of an AMAPI call."""

    def __init__(self, resource: Any) -> None:
        self._resource = resource
        self._built: dict[str, _Collections] = {}

    def __getattr__(self, name: str) -> Callable[..., Any]:
        target = getattr(self._resource, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            if args or kwargs:
                return target(*args, **kwargs)  # a verb: a new request each time
            if name not in self._built:
                from googleapiclient.discovery import Resource

                result = target()
                if not isinstance(result, Resource):
                    return result
                self._built[name] = _Collections(result)
            return self._built[name]

        return call


_per_thread = threading.local()


def _thread_service() -> Any:
    service = getattr(_per_thread, "service", None)
    if service is None:
        service = _per_thread.service = _Collections(build_service(settings()))
    return service


def _retry_after(exc: Any) -> float | None:
    value = getattr(getattr(exc, "resp", None), "get", lambda _k: None)("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class Amapi:
    """The Android Management API as the suite sees it."""

    def __init__(self, service: Callable[[], Any] = _thread_service,
                 policy: RetryPolicy | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._service = service
        self._policy = policy
        self._sleep = sleep

    def _retry_policy(self) -> RetryPolicy:
        if self._policy is None:
            config = settings()
            self._policy = RetryPolicy(config.amapi_retry_budget_seconds,
                                       config.amapi_retry_base_seconds,
                                       config.amapi_retry_max_seconds)
        return self._policy

    def _execute(self, method: str, request: Callable[[Any], Any], *,
                 idempotent: bool = True) -> Any:
        from googleapiclient.errors import HttpError

        background = _background.get()
        if background is not None:
            _refuse_if_spent(background, method)
        policy = BACKGROUND_RETRY if background is not None else self._retry_policy()
        schedule = policy.delays()
        while True:
            retry_after = None
            status = 0
            self._take_budget(method, background)
            try:
                return request(self._service()).execute(num_retries=0)
            except HttpError as exc:
                status = int(exc.resp.status)
                rpc_status, message = status_of(exc.content)
                failure: AmapiError = classify(method, status, message, rpc_status)
                retriable = failure.never_executed or (
                    idempotent and status >= 500 and not isinstance(failure, AmapiNotFound))
                retry_after = _retry_after(exc)
            except (TimeoutError, OSError) as exc:
                # A refused connection never reached AMAPI; a timeout may have.
                refused = isinstance(exc, ConnectionRefusedError)
                failure = AmapiUnavailable(method, f"unreachable: {exc!r}",
                                           never_executed=refused)
                retriable = idempotent or refused
            if background is not None and isinstance(failure, AmapiQuotaExhausted):
                background.throttled = True
                raise failure
            if not retriable:
                raise failure
            delay = schedule.next_delay(retry_after)
            if delay is None:
                raise failure
            logs.log(logging.WARNING, f"AMAPI {method} failed, retrying",
                     amapi={"method": method, "status": status,
                            "attempt": schedule.attempt, "delaySeconds": round(delay, 3)})
            self._sleep(delay)

    @staticmethod
    def _take_budget(method: str, background: BackgroundRun | None) -> None:
        # Every request, each retry too, spends one call of the project's AMAPI budget; a
        # scheduled run waits for one no longer than its own time allows.
        max_wait = None if background is None else max(0.0,
                                                        background.deadline - time.monotonic())
        try:
            budget.take(max_wait, method)
        except AmapiQuotaExhausted:
            if background is not None:
                background.throttled = True
            raise

    # Enterprises

    def get_enterprise(self, name: str) -> dict[str, Any]:
        """One enterprise."""
        return dict(self._execute("enterprises.get",
                                  lambda s: s.enterprises().get(name=name)))

    def patch_enterprise(self, name: str, body: dict[str, Any], update_mask: str) -> dict[str, Any]:
        """Change the listed fields of an enterprise."""
        return dict(self._execute("enterprises.patch", lambda s: s.enterprises().patch(
            name=name, updateMask=update_mask, body=body)))

    def create_signup_url(self, project_id: str, callback_url: str,
                          admin_email: str | None = None) -> dict[str, Any]:
        """A Google signup URL that binds a new enterprise to this project."""
        params = {"projectId": project_id, "callbackUrl": callback_url}
        if admin_email:
            params["adminEmail"] = admin_email
        return dict(self._execute("signupUrls.create",
                                  lambda s: s.signupUrls().create(**params), idempotent=False))

    def create_enterprise(self, project_id: str, signup_url_name: str, enterprise_token: str,
                          body: dict[str, Any]) -> dict[str, Any]:
        """Complete a signup: create the enterprise."""
        return dict(self._execute("enterprises.create", lambda s: s.enterprises().create(
            projectId=project_id, signupUrlName=signup_url_name,
            enterpriseToken=enterprise_token, body=body), idempotent=False))

    # Policies

    def get_policy(self, name: str) -> dict[str, Any]:
        """One policy."""
        return dict(self._execute("enterprises.policies.get",
                                  lambda s: s.enterprises().policies().get(name=name)))

    def patch_policy(self, name: str, policy: dict[str, Any],
                     update_mask: str | None = None) -> dict[str, Any]:
        """Create or replace a policy (AMAPI's patch is an upsert); returns it with its version."""
        params: dict[str, Any] = {"name": name, "body": policy}
        if update_mask:
            params["updateMask"] = update_mask
        return dict(self._execute("enterprises.policies.patch",
                                  lambda s: s.enterprises().policies().patch(**params)))

    def delete_policy(self, name: str) -> None:
        """Delete a policy no device uses."""
        self._execute("enterprises.policies.delete",
                      lambda s: s.enterprises().policies().delete(name=name))

    # Enrollment tokens

    def create_enrollment_token(self, enterprise: str, token: dict[str, Any]) -> dict[str, Any]:
        """A new enrollment token (value, expiry, qrCode)."""
        return dict(self._execute(
            "enterprises.enrollmentTokens.create",
            lambda s: s.enterprises().enrollmentTokens().create(parent=enterprise, body=token),
            idempotent=False))

    def delete_enrollment_token(self, name: str) -> None:
        """Revoke a token; one already gone counts as revoked."""
        from shared.amapi.errors import AmapiNotFound

        with contextlib.suppress(AmapiNotFound):
            self._execute("enterprises.enrollmentTokens.delete",
                          lambda s: s.enterprises().enrollmentTokens().delete(name=name))

    # Devices

    def get_device(self, name: str) -> dict[str, Any]:
        """One device."""
        return dict(self._execute("enterprises.devices.get",
                                  lambda s: s.enterprises().devices().get(name=name)))

    def list_devices(self, enterprise: str, page_size: int = 100,
                     page_token: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """One page of devices and the token of the next page."""
        params: dict[str, Any] = {"parent": enterprise, "pageSize": page_size}
        if page_token:
            params["pageToken"] = page_token
        result = self._execute("enterprises.devices.list",
                               lambda s: s.enterprises().devices().list(**params))
        return list(result.get("devices", [])), result.get("nextPageToken")

    def patch_device(self, name: str, device: dict[str, Any], update_mask: str) -> dict[str, Any]:
        """Change `state`, `policyName` or `disabledReason` of a device."""
        return dict(self._execute("enterprises.devices.patch",
                                  lambda s: s.enterprises().devices().patch(
                                      name=name, updateMask=update_mask, body=device)))

    def delete_device(self, name: str, wipe_data_flags: list[str] | None = None,
                      wipe_reason_message: str | None = None) -> None:
        """Delete (and wipe) a device; one already gone counts as deleted."""
        from shared.amapi.errors import AmapiNotFound

        params: dict[str, Any] = {"name": name}
        if wipe_data_flags:
            params["wipeDataFlags"] = wipe_data_flags
        if wipe_reason_message:
            params["wipeReasonMessage"] = wipe_reason_message
        with contextlib.suppress(AmapiNotFound):
            self._execute("enterprises.devices.delete",
                          lambda s: s.enterprises().devices().delete(**params))

    def issue_command(self, device_name: str, command: dict[str, Any]) -> dict[str, Any]:
        """Send a command; returns the long-running Operation."""
        return dict(self._execute("enterprises.devices.issueCommand",
                                  lambda s: s.enterprises().devices().issueCommand(
                                      name=device_name, body=command), idempotent=False))

    def get_operation(self, name: str) -> dict[str, Any]:
        """One command operation."""
        return dict(self._execute("enterprises.devices.operations.get",
                                  lambda s: s.enterprises().devices().operations().get(name=name)))

    def list_operations(self, device_name: str, page_size: int = 100,
                        page_token: str | None = None
                        ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of a device's command operations and the token of the next page."""
        params: dict[str, Any] = {"name": f"{device_name}/operations", "pageSize": page_size}
        if page_token:
            params["pageToken"] = page_token
        result = self._execute("enterprises.devices.operations.list",
                               lambda s: s.enterprises().devices().operations().list(**params))
        return list(result.get("operations", [])), result.get("nextPageToken")

    def cancel_operation(self, name: str) -> None:
        """Ask AMAPI to cancel a command not yet executed (best effort)."""
        self._execute("enterprises.devices.operations.cancel",
                      lambda s: s.enterprises().devices().operations().cancel(name=name))


_shared: Amapi | None = None


def amapi() -> Amapi:
    """The process-wide AMAPI door."""
    global _shared
    if _shared is None:
        _shared = Amapi()
    return _shared
