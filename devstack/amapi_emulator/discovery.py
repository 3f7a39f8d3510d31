"""The AMAPI v1 discovery document bundled with google-api-python-client, and routes from it."""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

DOCUMENT_PACKAGE = "googleapiclient.discovery_cache.documents"
DOCUMENT_FILE = "androidmanagement.v1.json"
METHOD_ID_PREFIX = "androidmanagement."


@dataclass(frozen=True)
class Method:
    """One REST method of the API, as the discovery document describes it."""

    id: str
    http_method: str
    flat_path: str
    parameters: dict[str, Any]
    request_schema: str | None
    response_schema: str | None
    pattern: re.Pattern[str]

    @property
    def short_id(self) -> str:
        """The method id without the API prefix, e.g. `enterprises.policies.patch`."""
        return self.id.removeprefix(METHOD_ID_PREFIX)

    @property
    def query_parameters(self) -> dict[str, Any]:
        """The method's own parameters that travel in the query string."""
        return {k: v for k, v in self.parameters.items() if v.get("location") == "query"}


@functools.cache
def load_document() -> dict[str, Any]:
    """The parsed discovery document (read once from the installed client package)."""
    text = resources.files(DOCUMENT_PACKAGE).joinpath(DOCUMENT_FILE).read_text("utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


def schemas() -> dict[str, Any]:
    """Every schema of the document, by name."""
    result: dict[str, Any] = load_document()["schemas"]
    return result


def global_parameters() -> dict[str, Any]:
    """Query parameters every method accepts (`alt`, `fields`, `prettyPrint`, ...)."""
    result: dict[str, Any] = load_document()["parameters"]
    return result


def _flat_path_pattern(flat_path: str) -> re.Pattern[str]:
    # A path variable is one segment; it cannot swallow the `:verb` suffix either.
    parts = re.split(r"\{([^}]+)\}", flat_path)
    regex = "".join(
        f"(?P<{part}>[^/:]+)" if index % 2 else re.escape(part)
        for index, part in enumerate(parts))
    return re.compile(f"^/{regex}$")


def _collect(resource: dict[str, Any], into: list[Method]) -> None:
    for raw in resource.get("methods", {}).values():
        into.append(Method(
            id=raw["id"],
            http_method=raw["httpMethod"],
            flat_path=raw["flatPath"],
            parameters=raw.get("parameters", {}),
            request_schema=(raw.get("request") or {}).get("$ref"),
            response_schema=(raw.get("response") or {}).get("$ref"),
            pattern=_flat_path_pattern(raw["flatPath"]),
        ))
    for child in resource.get("resources", {}).values():
        _collect(child, into)


@functools.cache
def methods() -> tuple[Method, ...]:
    """Every method of the API."""
    collected: list[Method] = []
    _collect(load_document(), collected)
    return tuple(collected)


@functools.cache
def method_by_short_id() -> dict[str, Method]:
    """Methods keyed by their id without the API prefix."""
    return {method.short_id: method for method in methods()}


def match(http_method: str, path: str) -> tuple[Method, dict[str, str]] | None:
    """The method serving `http_method path` and its path variables, or None."""
    for method in methods():
        if method.http_method != http_method.upper():
            continue
        found = method.pattern.match(path)
        if found:
            return method, found.groupdict()
    return None
