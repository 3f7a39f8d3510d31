"""Apply `firestore.indexes.json` (composite indexes and TTL policies) with gcloud.

Used by Cloud Build; safe to re-run: existing indexes and policies are left as they are.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def commands(spec: dict[str, Any], database: str) -> list[list[str]]:
    """The gcloud invocations that make Firestore match `spec`."""
    planned: list[list[str]] = []
    for index in spec.get("indexes", []):
        command = ["gcloud", "firestore", "indexes", "composite", "create",
                   f"--database={database}", f"--collection-group={index['collectionGroup']}",
                   f"--query-scope={index.get('queryScope', 'COLLECTION')}", "--async"]
        for field in index["fields"]:
            order = field.get("order", "ASCENDING").lower()
            command.append(f"--field-config=field-path={field['fieldPath']},order={order}")
        planned.append(command)
    for override in spec.get("fieldOverrides", []):
        if override.get("ttl"):
            planned.append(["gcloud", "firestore", "fields", "ttls", "update",
                            override["fieldPath"], f"--database={database}",
                            f"--collection-group={override['collectionGroup']}",
                            "--enable-ttl", "--async", "--quiet"])
    return planned


def main(argv: list[str] | None = None) -> None:
    """Run (or with --dry-run print) every command; ALREADY_EXISTS is not an error."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", default="(default)")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    spec = json.loads((ROOT / "firestore.indexes.json").read_text())
    for command in commands(spec, args.database):
        print(" ".join(command), flush=True)
        if args.dry_run:
            continue
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0 and "ALREADY_EXISTS" not in result.stderr:
            raise SystemExit(result.stderr)


if __name__ == "__main__":
    main()
