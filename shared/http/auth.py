"""Who is calling: the bearer token of every request becomes a `Principal`.

Three modes (`AUTH_MODE`):
- `local`: tokens signed by the local stack's own RSA key (`LOCAL_AUTH_PUBLIC_KEY_FILE`).
- `cloud-run-iam`: Cloud Run IAM has already verified the Google ID token before the request
  reached us (functions deployed with `--no-allow-unauthenticated`); we read its claims.
- `google-id-token`: we verify Google-signed ID tokens ourselves (`AUTH_AUDIENCE`).
"""

from __future__ import annotations

import functools
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from shared.config import settings
from shared.errors import Unauthenticated

LOCAL_ISSUER = "amapi-cosu-local"
LOCAL_AUDIENCE = "amapi-cosu"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller. Roles and spaces are resolved from its email."""

    email: str
    subject: str = ""
    issuer: str = ""
    claims: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def _bearer(authorization: str | None) -> str:
    if not authorization:
        raise Unauthenticated("missing Authorization: Bearer token")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Authorization header must be 'Bearer <token>'")
    return token.strip()


def _principal(claims: dict[str, Any]) -> Principal:
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email:
        raise Unauthenticated("token carries no email claim")
    # Only the JSON boolean true counts: "false" (a string) is truthy, and a missing claim
    # proves nothing about who owns the address.
    if claims.get("email_verified") is not True:
        raise Unauthenticated("token email is not verified")
    return Principal(email=email.lower(), subject=str(claims.get("sub", "")),
                     issuer=str(claims.get("iss", "")), claims=claims)


@functools.cache
def _local_public_key(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def _verify_local(token: str) -> dict[str, Any]:
    from google.auth import jwt

    path = settings().local_auth_public_key_file
    if not path:
        raise Unauthenticated("local authentication has no public key configured")
    claims: dict[str, Any] = jwt.decode(token, certs=_local_public_key(path),
                                        audience=LOCAL_AUDIENCE)
    if claims.get("iss") != LOCAL_ISSUER:
        raise ValueError("unexpected issuer")
    return claims


def _read_iam_verified(token: str) -> dict[str, Any]:
    from google.auth import jwt

    # Cloud Run IAM rejected the request before us unless the token was valid.
    claims: dict[str, Any] = jwt.decode(token, verify=False)
    return claims


class _GoogleCerts:
    """Google's ID-token signing certificates, fetched at most once an hour per instance."""

    URL = "https://www.googleapis.com/oauth2/v1/certs"
    TTL = 3600.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._certs: dict[str, str] = {}
        self._fetched = 0.0

    def get(self) -> dict[str, str]:
        with self._lock:
            if not self._certs or time.monotonic() - self._fetched > self.TTL:
                import google.auth.transport.requests
                from google.oauth2 import id_token

                request = google.auth.transport.requests.Request()
                self._certs = id_token._fetch_certs(request, self.URL)
                self._fetched = time.monotonic()
            return self._certs


_google_certs = _GoogleCerts()


def _verify_google(token: str) -> dict[str, Any]:
    from google.auth import jwt

    audience = settings().auth_audience or None
    claims: dict[str, Any] = jwt.decode(token, certs=_google_certs.get(), audience=audience,
                                        clock_skew_in_seconds=10)
    if claims.get("iss") not in ("accounts.google.com", "https://accounts.google.com"):
        raise ValueError("unexpected issuer")
    return claims


_VERIFIERS = {
    "local": _verify_local,
    "cloud-run-iam": _read_iam_verified,
    "google-id-token": _verify_google,
}


def authenticate(authorization: str | None) -> Principal:
    """Turn an `Authorization` header into a Principal, or raise Unauthenticated (401)."""
    from google.auth import exceptions

    token = _bearer(authorization)
    try:
        claims = _VERIFIERS[settings().auth_mode](token)
    except (ValueError, exceptions.GoogleAuthError) as exc:
        raise Unauthenticated("invalid bearer token") from exc
    return _principal(claims)
