"""Marshmallow fields that accept JSON exactly as written (no "yes" for true, no "7" for 7)."""

from __future__ import annotations

import datetime
import re
from typing import Any

from marshmallow import ValidationError, fields


class StrictBoolean(fields.Boolean):
    """Only JSON `true` and `false`."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise ValidationError("must be true or false")
        return value


def calendar_date(value: str) -> None:
    """A validator: a real calendar date written YYYY-MM-DD (no other ISO form)."""
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        raise ValidationError("must be a real date YYYY-MM-DD") from None
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValidationError("must be a real date YYYY-MM-DD")
