import datetime

import pytest

from shared.clock import parse_rfc3339, rfc3339

UTC = datetime.UTC


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-12-21T06:15:18Z", datetime.datetime(2026, 12, 21, 6, 15, 18, tzinfo=UTC)),
    ("2026-12-21T06:15:18.330Z", datetime.datetime(2026, 12, 21, 6, 15, 18, 330000, tzinfo=UTC)),
    ("2026-12-21T06:15:18.123456789Z",
     datetime.datetime(2026, 12, 21, 6, 15, 18, 123456, tzinfo=UTC)),
    ("2026-12-21T07:15:18.5+01:00", datetime.datetime(2026, 12, 21, 6, 15, 18, 500000,
                                                      tzinfo=UTC)),
    ("2026-12-21T06:15:18z", datetime.datetime(2026, 12, 21, 6, 15, 18, tzinfo=UTC)),
])
def test_rfc3339_timestamps_parse_to_utc(text, expected):
    assert parse_rfc3339(text) == expected


def test_timestamps_without_zone_are_refused():
    with pytest.raises(ValueError):
        parse_rfc3339("2026-12-21T06:15:18")


def test_rfc3339_output_uses_z():
    moment = datetime.datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
    assert rfc3339(moment) == "2026-11-21T10:00:00Z"
    assert parse_rfc3339(rfc3339(moment)) == moment
