"""Every device search the inventory can issue is one query Firestore serves from indexes.

The rule: a search is only equality-like filters (==, `space in`, `labels array-contains`,
`effectivePolicy in`) ordered by document id, which Firestore answers by merging single-field
indexes for any combination; firestore.indexes.json adds `space` + each filter field, so that
the usual search (one filter within the caller's spaces) reads one composite index.
"""

import itertools
import json
from pathlib import Path

from shared.devices.inventory import FILTERS
from shared.store import devices

SPEC = json.loads((Path(__file__).resolve().parents[2] / "firestore.indexes.json").read_text())
# Fields whose filter is not a plain equality on the field the parameter names.
SPECIAL = {"space", "label", "configId"}
EQUALITY_LIKE = {"EQUAL", "IN", "ARRAY_CONTAINS"}


def declared(group):
    return [[(f["fieldPath"], f.get("order", "ASCENDING")) for f in index["fields"]]
            for index in SPEC["indexes"] if index["collectionGroup"] == group]


def test_each_filter_within_the_callers_spaces_has_its_composite_index():
    fields = [FILTERS[k] for k in FILTERS if k not in SPECIAL] + ["effectivePolicy"]
    for field in fields:
        assert [("space", "ASCENDING"), (field, "ASCENDING")] in declared("devices"), field


def test_every_filter_combination_is_an_equality_query_ordered_by_id():
    values = {"spaces": ["global", "paris"], "label": "lobby"}
    names = [FILTERS[k] for k in FILTERS if k not in SPECIAL] + ["label", "spaces"]
    # Every pair (with or without a configuration's groups) and everything at once: the query
    # is built the same way for any subset.
    combinations = [c for size in (1, 2) for c in itertools.combinations(names, size)]
    for combination, groups in itertools.product([*combinations, tuple(names)],
                                                 (None, ["g1", "g2"])):
        query = devices._query({n: values.get(n, "x") for n in combination}, groups, 10,
                               "after")
        structured = query._to_protobuf()
        where = structured.where
        filters = (list(where.composite_filter.filters) if "composite_filter" in where
                   else [where])
        operators = [f.field_filter.op.name for f in filters]
        assert len(operators) == len(combination) + (groups is not None), combination
        assert set(operators) <= EQUALITY_LIKE, combination
        assert [(o.field.field_path, o.direction.name) for o in structured.order_by] == [
            ("__name__", "ASCENDING")], combination
