"""`AmapiDoor`: the Android Management API as the rest of the suite may use it.

One method per AMAPI verb the suite calls, with the signatures of the googleapiclient-based
`shared.amapi.client.Amapi`; failures are the classified `shared.amapi.errors`. Code that takes
a door instead of reaching for `amapi()` can be unit-tested against `shared.amapi.fake`.
"""

from __future__ import annotations

from typing import Any, Protocol


class AmapiDoor(Protocol):
    """Every AMAPI verb the suite uses."""

    def get_enterprise(self, name: str) -> dict[str, Any]:
        """One enterprise."""
        ...

    def patch_enterprise(self, name: str, body: dict[str, Any], update_mask: str) -> dict[str, Any]:
        """Change the listed fields of an enterprise."""
        ...

    def create_signup_url(self, project_id: str, callback_url: str,
                          admin_email: str | None = None) -> dict[str, Any]:
        """A Google signup URL that binds a new enterprise to this project."""
        ...

    def create_enterprise(self, project_id: str, signup_url_name: str, enterprise_token: str,
                          body: dict[str, Any]) -> dict[str, Any]:
        """Complete a signup: create the enterprise."""
        ...

    def get_policy(self, name: str) -> dict[str, Any]:
        """One policy."""
        ...

    def patch_policy(self, name: str, policy: dict[str, Any],
                     update_mask: str | None = None) -> dict[str, Any]:
        """Create or replace a policy (an upsert); returns it with its version."""
        ...

    def delete_policy(self, name: str) -> None:
        """Delete a policy no device uses."""
        ...

    def create_enrollment_token(self, enterprise: str, token: dict[str, Any]) -> dict[str, Any]:
        """A new enrollment token (value, expiry, qrCode)."""
        ...

    def delete_enrollment_token(self, name: str) -> None:
        """Revoke a token; one already gone counts as revoked."""
        ...

    def get_device(self, name: str) -> dict[str, Any]:
        """One device."""
        ...

    def list_devices(self, enterprise: str, page_size: int = 100,
                     page_token: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """One page of devices and the token of the next page."""
        ...

    def patch_device(self, name: str, device: dict[str, Any], update_mask: str) -> dict[str, Any]:
        """Change `state`, `policyName` or `disabledReason` of a device."""
        ...

    def delete_device(self, name: str, wipe_data_flags: list[str] | None = None,
                      wipe_reason_message: str | None = None) -> None:
        """Delete (and wipe) a device; one already gone counts as deleted."""
        ...

    def issue_command(self, device_name: str, command: dict[str, Any]) -> dict[str, Any]:
        """Send a command; returns the long-running Operation."""
        ...

    def get_operation(self, name: str) -> dict[str, Any]:
        """One command operation."""
        ...

    def list_operations(self, device_name: str, page_size: int = 100,
                        page_token: str | None = None
                        ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of a device's command operations and the token of the next page."""
        ...

    def cancel_operation(self, name: str) -> None:
        """Ask AMAPI to cancel a command not yet executed (best effort)."""
        ...


def google() -> AmapiDoor:
    """The process-wide googleapiclient door (typed as the Protocol: mypy checks it conforms)."""
    from shared.amapi.client import amapi  # here, so that the client may name the Protocol

    return amapi()
