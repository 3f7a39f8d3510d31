"""The indexes production Firestore needs for the suite's queries are declared."""

import json
from pathlib import Path

from devstack.firestore_indexes import commands

SPEC = json.loads((Path(__file__).resolve().parents[2] / "firestore.indexes.json").read_text())


def declared(group):
    return [[f["fieldPath"] for f in index["fields"]] for index in SPEC["indexes"]
            if index["collectionGroup"] == group]


def test_token_expiry_query_has_its_index():
    assert ["status", "tokenExpireTime"] in declared("enrollmentProfiles")


def test_type_ahead_queries_have_their_indexes():
    assert ["space", "userNameKey"] in declared("deviceUsers")
    assert ["space", "displayNameKey"] in declared("deviceUsers")


def test_ttl_policies_cover_expiring_collections():
    planned = [" ".join(c) for c in commands(SPEC, "(default)")]
    for group in ("idempotencyKeys", "notificationReceipts", "mcpConfirmations"):
        assert any(f"--collection-group={group}" in c and "ttls" in c for c in planned)
