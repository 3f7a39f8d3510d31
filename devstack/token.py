"""`make token EMAIL=…`: print a local bearer token for that principal."""

from __future__ import annotations

import argparse

from devstack import local_auth
from devstack.stack import STATE_DIR


def main(argv: list[str] | None = None) -> None:
    """Print a token signed with the local stack's key."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("email")
    parser.add_argument("--hours", type=int, default=12)
    args = parser.parse_args(argv)
    private_key, _ = local_auth.ensure_keys(STATE_DIR / "auth")
    print(local_auth.issue_token(private_key, args.email, args.hours * 3600))


if __name__ == "__main__":
    main()
