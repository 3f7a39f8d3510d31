"""What a notifications instance remembers of its devices stays bounded and never goes back."""

import datetime

from shared.store.notification_effects import RecentDevices

T0 = datetime.datetime(2026, 11, 21, tzinfo=datetime.UTC)


def at(seconds):
    return T0 + datetime.timedelta(seconds=seconds)


def test_least_recently_used_devices_are_forgotten_first():
    recent = RecentDevices(max_devices=3)
    for index in range(3):
        recent.remember(f"d{index}", {"n": index}, at(index))
    assert recent.get("d0").data == {"n": 0}
    recent.remember("d3", {"n": 3}, at(3))
    assert recent.get("d1") is None
    assert [recent.get(name).data["n"] for name in ("d0", "d2", "d3")] == [0, 2, 3]
    assert len(recent) == 3


def test_memory_is_bounded_by_size_too():
    recent = RecentDevices(max_devices=1000, max_bytes=10_000)
    for index in range(100):
        recent.remember(f"d{index}", {"apps": "x" * 900}, at(index))
    assert len(recent) < 12
    assert recent.get("d99") is not None and recent.get("d0") is None
    # A device too large to be worth remembering is simply read every time.
    recent.remember("huge", {"apps": "x" * 5000}, at(0))
    assert recent.get("huge") is None


def test_a_slower_reader_does_not_replace_a_newer_version():
    recent = RecentDevices()
    recent.remember("d", {"reportTime": "10:02"}, at(2))
    recent.remember("d", {"reportTime": "10:01"}, at(1))
    remembered = recent.get("d")
    assert remembered.data == {"reportTime": "10:02"} and remembered.remembered
    recent.remember("d", {"reportTime": "10:03"}, at(3), changed={"reportTime": "10:03"})
    assert recent.get("d").update_time == at(3)


def test_memory_that_keeps_turning_out_stale_is_rarely_consulted():
    recent = RecentDevices()
    recent.remember("d", {}, at(0))
    for _ in range(64):
        recent.confirmed(stale=True)
    consulted = sum(recent.get("d") is not None for _ in range(RecentDevices.PROBE_EVERY * 4))
    assert consulted == 4
    for _ in range(64):
        recent.confirmed(stale=False)
    assert all(recent.get("d") is not None for _ in range(8))
