"""The local stack's own token issuer: an RSA key pair and RS256 ID-token-like JWTs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from shared.http.auth import LOCAL_AUDIENCE, LOCAL_ISSUER


def ensure_keys(directory: Path) -> tuple[Path, Path]:
    """Create (once) and return the private and public key files under `directory`."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    private_path = directory / "signing-key.pem"
    public_path = directory / "signing-key.pub.pem"
    if private_path.exists() and public_path.exists():
        return private_path, public_path
    directory.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    private_path.chmod(0o600)
    public_path.write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return private_path, public_path


def issue_token(private_key_file: Path, email: str, lifetime_seconds: int = 12 * 3600,
                extra_claims: dict[str, Any] | None = None) -> str:
    """A bearer token for `email` that the functions accept in `AUTH_MODE=local`.

    `extra_claims` add or override claims, and a None value drops one (tests forge doubtful
    tokens with it).
    """
    from google.auth import crypt, jwt

    signer = crypt.RSASigner.from_string(private_key_file.read_bytes(), key_id="local")
    now = int(time.time())
    claims = {"iss": LOCAL_ISSUER, "aud": LOCAL_AUDIENCE, "sub": email, "email": email,
              "email_verified": True, "iat": now, "exp": now + lifetime_seconds}
    claims.update(extra_claims or {})
    claims = {name: value for name, value in claims.items() if value is not None}
    return jwt.encode(signer, claims).decode()
