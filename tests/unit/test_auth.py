import base64
import json
import time

import pytest
from google.auth import crypt, jwt

from devstack import local_auth
from shared.errors import Unauthenticated
from shared.http.auth import LOCAL_AUDIENCE, LOCAL_ISSUER, authenticate
from tests.conftest import ENV, token_for


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _claims(**overrides):
    now = int(time.time())
    claims = {"iss": LOCAL_ISSUER, "aud": LOCAL_AUDIENCE, "email": "ops@example.com",
              "email_verified": True, "sub": "ops@example.com", "iat": now, "exp": now + 600}
    claims.update(overrides)
    return claims


def _signed(claims, key_file=ENV.private_key) -> str:
    signer = crypt.RSASigner.from_string(key_file.read_bytes(), key_id="local")
    return jwt.encode(signer, claims).decode()


def test_valid_local_token_yields_the_principal():
    principal = authenticate(f"Bearer {token_for('Ops@Example.com')}")
    assert principal.email == "ops@example.com"


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer   ", "Basic dXNlcjpwYXNz",
                                    "Bearer garbage", "Bearer a.b.c"])
def test_missing_or_garbage_credentials_are_401(header):
    with pytest.raises(Unauthenticated):
        authenticate(header)


def test_unsigned_alg_none_token_is_401():
    token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims())}."
    with pytest.raises(Unauthenticated):
        authenticate(f"Bearer {token}")


def test_token_signed_by_another_key_is_401(tmp_path):
    other_key, _ = local_auth.ensure_keys(tmp_path)
    with pytest.raises(Unauthenticated):
        authenticate(f"Bearer {_signed(_claims(), other_key)}")


@pytest.mark.parametrize("overrides", [
    {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200},
    {"aud": "someone-else"},
    {"iss": "https://evil.example.com"},
    {"email": None},
    {"email": "not-an-email"},
    {"email_verified": False},
])
def test_expired_misaddressed_or_emailless_tokens_are_401(overrides):
    claims = {k: v for k, v in _claims(**overrides).items() if v is not None}
    with pytest.raises(Unauthenticated):
        authenticate(f"Bearer {_signed(claims)}")


def test_tampered_payload_is_401():
    header, _payload, signature = _signed(_claims()).split(".")
    forged = _b64(_claims(email="admin@example.com"))
    with pytest.raises(Unauthenticated):
        authenticate(f"Bearer {header}.{forged}.{signature}")


@pytest.mark.parametrize("email_verified", ["true", "True", "false", 1, "yes", [True],
                                            {"value": True}, None])
def test_email_verified_other_than_boolean_true_is_401(email_verified):
    token = local_auth.issue_token(ENV.private_key, "ops@example.com",
                                   extra_claims={"email_verified": email_verified})
    with pytest.raises(Unauthenticated, match="not verified"):
        authenticate(f"Bearer {token}")


def test_email_verified_true_is_accepted():
    token = local_auth.issue_token(ENV.private_key, "ops@example.com",
                                   extra_claims={"email_verified": True})
    assert authenticate(f"Bearer {token}").email == "ops@example.com"
