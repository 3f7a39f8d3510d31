"""A thin HTTP client of the functions: JSON in and out, the error envelope as an exception."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any


class ApiError(Exception):
    """The API refused: its status and error envelope."""

    def __init__(self, status: int, error: dict[str, Any]) -> None:
        super().__init__(error.get("message") or f"HTTP {status}")
        self.status = status
        self.error = error

    def describe(self) -> str:
        """One line per problem, as a person reads it."""
        lines = [f"{self.error.get('status', self.status)}: {self}"]
        lines += [f"  {d.get('field')}: {d.get('reason')}" for d in self.error.get("details") or []]
        return "\n".join(lines)


class Api:
    """The functions behind `base_url` (`<base>/enroll`, `<base>/policy`, `<base>/commands`)."""

    def __init__(self, base_url: str, token_for: Callable[[str], str],
                 timeout: float = 60) -> None:
        self.base_url = base_url.rstrip("/")
        self.token_for = token_for
        self.timeout = timeout

    def _request(self, function: str, method: str, path: str, body: Any = None,
                 query: dict[str, Any] | None = None) -> urllib.request.Request:
        function_url = f"{self.base_url}/{function}"
        wanted = {k: ("true" if v is True else "false" if v is False else v)
                  for k, v in (query or {}).items() if v is not None}
        url = function_url + path + (f"?{urllib.parse.urlencode(wanted)}" if wanted else "")
        headers = {"Authorization": f"Bearer {self.token_for(function_url)}",
                   "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        return urllib.request.Request(url, data=data, method=method, headers=headers)

    def call(self, function: str, method: str, path: str, body: Any = None,
             query: dict[str, Any] | None = None) -> Any:
        """One call; its JSON answer (None when empty), or ApiError."""
        request = self._request(function, method, path, body, query)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raise _api_error(exc) from None
        return json.loads(raw) if raw else None

    def stream(self, function: str, path: str,
               query: dict[str, Any] | None = None) -> Iterator[bytes]:
        """A GET answered in chunks, as they come."""
        request = self._request(function, "GET", path, None, query)
        try:
            response = urllib.request.urlopen(request, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            raise _api_error(exc) from None
        with response:
            while chunk := response.read(64 * 1024):
                yield chunk

    def pages(self, function: str, path: str, key: str,
              query: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Every item of a paginated list."""
        token = None
        while True:
            page = self.call(function, "GET", path, query={**(query or {}),
                                                          "pageToken": token})
            yield from page.get(key) or []
            token = page.get("nextPageToken")
            if not token:
                return


def _api_error(exc: urllib.error.HTTPError) -> ApiError:
    try:
        error = json.loads(exc.read() or b"{}").get("error") or {}
    except ValueError:
        error = {}
    return ApiError(exc.code, error or {"message": f"HTTP {exc.code} {exc.reason}"})
