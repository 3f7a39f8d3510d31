"""Per-request overhead of the shared HTTP layer (routing, auth, envelope, logging)."""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import time
from pathlib import Path

N = 2000


def main() -> None:
    """Print requests per second for a public and an authenticated route."""
    from devstack import local_auth

    keys = Path(tempfile.mkdtemp(prefix="amapi-cosu-bench-"))
    private_key, public_key = local_auth.ensure_keys(keys)
    os.environ.update({"AUTH_MODE": "local", "LOCAL_AUTH_PUBLIC_KEY_FILE": str(public_key),
                       "GOOGLE_CLOUD_PROJECT": "bench"})
    from functions_framework import create_app

    from devstack.gateway import FUNCTIONS, ROOT

    target, source, signature = FUNCTIONS["/enroll"]
    client = create_app(target, str(ROOT / source), signature).test_client()
    token = local_auth.issue_token(private_key, "bench@example.com")
    print(f"HTTP layer overhead ({N} requests through functions-framework's test client)")
    for label, path, headers in (
            ("GET /healthz (public)", "/healthz", {}),
            ("GET unknown route (auth + 404)", "/nope", {"Authorization": f"Bearer {token}"})):
        with contextlib.redirect_stdout(io.StringIO()):
            started = time.perf_counter()
            for _ in range(N):
                client.get(path, headers=headers)
            elapsed = time.perf_counter() - started
        print(f"  {label:<34} {N / elapsed:>8.0f} req/s  {elapsed / N * 1e6:>7.0f} µs/req")


if __name__ == "__main__":
    main()
