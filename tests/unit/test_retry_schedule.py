from shared.retry import RetryPolicy


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_pauses_grow_exponentially_up_to_the_cap():
    clock = FakeClock()
    schedule = RetryPolicy(budget_seconds=1000, base_seconds=0.5, max_seconds=4).delays(
        clock, rand=lambda: 1.0)
    assert [schedule.next_delay() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_jitter_scales_each_pause():
    schedule = RetryPolicy(100, 1.0, 8.0).delays(FakeClock(), rand=lambda: 0.25)
    assert [schedule.next_delay() for _ in range(3)] == [0.25, 0.5, 1.0]


def test_no_pause_overruns_the_budget():
    clock = FakeClock()
    schedule = RetryPolicy(budget_seconds=3, base_seconds=1, max_seconds=10).delays(
        clock, rand=lambda: 1.0)
    total = 0.0
    while (delay := schedule.next_delay()) is not None:
        total += delay
        clock.now += delay
    assert total <= 3
    assert total == 3.0  # 1 + 2, then 4 would overrun


def test_retry_after_is_honoured_when_it_fits():
    clock = FakeClock()
    schedule = RetryPolicy(budget_seconds=10, base_seconds=0.1, max_seconds=1).delays(clock)
    assert schedule.next_delay(retry_after=7) == 7
    clock.now = 7
    assert schedule.next_delay(retry_after=7) is None
