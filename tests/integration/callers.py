"""A principal calling the deployed functions, as the access tests need several of them."""

from __future__ import annotations

from typing import Any

from tests.conftest import token_for


class Caller:
    """Requests to any function app, authenticated as `email`."""

    def __init__(self, apps: dict[str, Any], email: str) -> None:
        self.apps = apps
        self.email = email
        self.headers = {"Authorization": f"Bearer {token_for(email)}"}

    def call(self, target: str, method: str, path: str, body: Any = None, **headers: str) -> Any:
        """One request to the function `target`; `headers` are added to the Authorization."""
        return self.apps[target].test_client().open(path, method=method, json=body,
                                                    headers={**self.headers, **headers})
