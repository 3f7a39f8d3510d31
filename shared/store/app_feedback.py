"""Collection `appFeedback`: the latest keyed app state per (device, package, key).

Written from STATUS_REPORT notifications; read per app for the catalog's feedback view.
"""

from __future__ import annotations

from typing import Any

from shared.store.client import bounded, db
from shared.store.errors import translate_module
from shared.store.keys import natural_key

COLLECTION = "appFeedback"


def state_id(device_id: str, package_name: str, key: str) -> str:
    """One document per device, package and key: a newer report replaces the older."""
    return natural_key(device_id, package_name, key)


def for_package(space: str, package_name: str, limit: int) -> list[dict[str, Any]]:
    """Keyed app states reported for a package by devices of a space."""
    from google.cloud.firestore import FieldFilter

    query = (db().collection(COLLECTION)
             .where(filter=FieldFilter("space", "==", space))
             .where(filter=FieldFilter("packageName", "==", package_name))
             .limit(limit))
    return [s.to_dict() or {} for s in query.stream(**bounded())]


def for_device(device_id: str) -> list[dict[str, Any]]:
    """Keyed app states last reported by one device."""
    from google.cloud.firestore import FieldFilter

    query = db().collection(COLLECTION).where(filter=FieldFilter("deviceId", "==", device_id))
    return [s.to_dict() or {} for s in query.stream(**bounded())]


translate_module(__name__)
