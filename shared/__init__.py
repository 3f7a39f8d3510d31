"""amapi-cosu domain package, shared by every Cloud Function."""
