"""Composite indexes of the command history and of the enterprise's managed-device count."""

import json
from pathlib import Path

SPEC = json.loads((Path(__file__).resolve().parents[2] / "firestore.indexes.json").read_text())


def declared(group):
    return [[(f["fieldPath"], f.get("order", "ASCENDING")) for f in index["fields"]]
            for index in SPEC["indexes"] if index["collectionGroup"] == group]


def test_newest_first_command_history_has_its_index():
    assert [("deviceId", "ASCENDING"), ("__name__", "DESCENDING")] in declared("commands")


def test_managed_device_count_of_an_enterprise_has_its_index():
    assert [("state", "ASCENDING"), ("name", "ASCENDING")] in declared("devices")


def test_user_and_attribute_lookups_by_name_across_spaces_have_their_indexes():
    assert [("space", "ASCENDING"), ("userNameKey", "ASCENDING")] in declared("deviceUsers")
    assert [("space", "ASCENDING"), ("nameKey", "ASCENDING")] in declared("deviceAttributes")
