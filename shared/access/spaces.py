"""Spaces: the administrative partitions every resource belongs to (`global` by default)."""

from __future__ import annotations

import re

GLOBAL = "global"
SPACE_ID = re.compile(r"^[a-z][a-z0-9-]{0,62}\Z")
SPACE_ID_RULE = "must be 1-63 lowercase letters, digits or '-', starting with a letter"
