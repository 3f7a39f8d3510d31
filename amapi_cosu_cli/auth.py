"""Where the CLI's bearer token comes from.

In order: `--token` / `AMAPI_COSU_TOKEN`; against the local stack, the administrator token it
writes (`.devstack/admin-token`, or `--token-file`); otherwise a Google ID token for the
function's URL, from `GOOGLE_APPLICATION_CREDENTIALS` (google-auth) or from `gcloud auth
print-identity-token`.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


class NoCredentials(Exception):
    """No way to get a token for this URL."""


def is_local(url: str) -> bool:
    """True for the local stack."""
    return urlsplit(url).hostname in LOCAL_HOSTS


def token_source(base_url: str, token: str | None,
                 token_file: Path | None) -> Callable[[str], str]:
    """A function giving the bearer token for a function's URL."""
    if token:
        return lambda audience: token
    if is_local(base_url):
        path = token_file or Path(os.environ.get("DEVSTACK_DIR", ".devstack")) / "admin-token"
        if not path.is_file():
            raise NoCredentials(f"no token: {path} does not exist (is `make run` running in "
                                "this folder?); pass --token or set AMAPI_COSU_TOKEN")
        local = path.read_text().strip()
        return lambda audience: local
    return functools.cache(_google_id_token)


def _google_id_token(audience: str) -> str:
    if os.environ.get("GOOGLE_APPLICATION_CREDENTIALS"):
        import google.auth.transport.requests
        from google.oauth2 import id_token

        fetched: str = id_token.fetch_id_token(google.auth.transport.requests.Request(),
                                               audience)
        return fetched
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        raise NoCredentials("no token: set GOOGLE_APPLICATION_CREDENTIALS, install gcloud, or "
                            "pass --token")
    printed = subprocess.run([gcloud, "auth", "print-identity-token",
                              f"--audiences={audience}"], capture_output=True, text=True,
                             check=False)
    if printed.returncode != 0:
        raise NoCredentials(f"gcloud auth print-identity-token failed: {printed.stderr.strip()}")
    return printed.stdout.strip()
