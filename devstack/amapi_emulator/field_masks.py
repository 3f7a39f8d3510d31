"""Applying an update mask: copy the named fields from a patch body onto a resource."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any


def _lookup(source: dict[str, Any], keys: list[str]) -> Any:
    current: Any = source
    for key in keys:
        if not isinstance(current, dict):
            return None
        current = current.get(key)
    return current


def apply_update_mask(target: dict[str, Any], source: dict[str, Any],
                      paths: Iterable[str]) -> None:
    """Set each dotted path of `target` to its value in `source`, or clear it if absent there."""
    for path in paths:
        keys = path.split(".")
        value = _lookup(source, keys)
        parent: Any = target
        for key in keys[:-1]:
            if not isinstance(parent.get(key), dict):
                if value is None:
                    parent = None
                    break
                parent[key] = {}
            parent = parent[key]
        if parent is None:
            continue
        if value is None:
            parent.pop(keys[-1], None)
        else:
            parent[keys[-1]] = copy.deepcopy(value)


def replace_fields(target: dict[str, Any], source: dict[str, Any],
                   keep: Iterable[str]) -> None:
    """Replace every field of `target` by `source`'s, except the `keep` fields (server-owned)."""
    kept = {key: target[key] for key in keep if key in target}
    target.clear()
    target.update({key: copy.deepcopy(value) for key, value in source.items()
                   if value is not None and key not in kept})
    target.update(kept)


def without_nulls(value: Any) -> Any:
    """`value` with every null object member removed (proto3 JSON treats null as unset)."""
    if isinstance(value, dict):
        return {key: without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [without_nulls(item) for item in value]
    return value
