"""AuthLockout with virtual time: thresholds, doubling, cap, reset, per-source vs per-user."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callcenter.sip.auth import AuthLockout

SOURCE = "192.0.2.10"
USER = "1001"


def fail(lockout: AuthLockout, times: int, *, now: float = 0.0, step: float = 1.0) -> float:
    """Record ``times`` failures ``step`` seconds apart from ``now``; return the last time."""
    for index in range(times):
        now_i = now + index * step
        lockout.record_failure(now_i, SOURCE, USER)
    return now + (times - 1) * step


def test_allowed_until_the_threshold() -> None:
    lockout = AuthLockout(max_failures=5, window=300, base_delay=2, max_delay=600)
    assert lockout.check(0.0, SOURCE, USER) == 0.0
    last = fail(lockout, 4)
    assert lockout.check(last, SOURCE, USER) == 0.0


def test_threshold_blocks_for_base_delay() -> None:
    lockout = AuthLockout(max_failures=5, window=300, base_delay=2, max_delay=600)
    fail(lockout, 4)
    assert lockout.record_failure(10.0, SOURCE, USER) == 2.0
    assert lockout.check(10.0, SOURCE, USER) == 2.0
    assert lockout.check(11.5, SOURCE, USER) == pytest.approx(0.5)
    assert lockout.check(12.0, SOURCE, USER) == 0.0


def test_each_further_failure_doubles_the_block_up_to_the_cap() -> None:
    lockout = AuthLockout(max_failures=3, window=300, base_delay=2, max_delay=20)
    now = fail(lockout, 2)
    blocks = []
    for _ in range(6):
        now += lockout.check(now, SOURCE, USER)  # wait out the current block, then fail again
        blocks.append(lockout.record_failure(now, SOURCE, USER))
    assert blocks == [2.0, 4.0, 8.0, 16.0, 20.0, 20.0]


def test_failures_spread_wider_than_the_window_do_not_add_up() -> None:
    lockout = AuthLockout(max_failures=3, window=60, base_delay=2, max_delay=600)
    for index in range(10):
        assert lockout.record_failure(index * 61.0, SOURCE, USER) == 0.0
        assert lockout.check(index * 61.0, SOURCE, USER) == 0.0


def test_escalation_survives_a_block_longer_than_the_window() -> None:
    lockout = AuthLockout(max_failures=1, window=10, base_delay=100, max_delay=1000)
    assert lockout.record_failure(0.0, SOURCE, USER) == 100.0
    # Blocked until 100; a failure within the window after the block keeps escalating.
    assert lockout.record_failure(105.0, SOURCE, USER) == 200.0
    # After a quiet window past the end of the block, counting starts again.
    assert lockout.record_failure(305.0 + 10.5, SOURCE, USER) == 100.0


def test_success_clears_the_user_and_the_source() -> None:
    lockout = AuthLockout(max_failures=3, window=300, base_delay=2, max_delay=600)
    fail(lockout, 2)
    lockout.record_success(5.0, SOURCE, USER)
    assert len(lockout) == 0
    assert lockout.record_failure(6.0, SOURCE, USER) == 0.0
    assert lockout.record_failure(7.0, SOURCE, USER) == 0.0
    assert lockout.record_failure(8.0, SOURCE, USER) == 2.0


def test_many_sources_against_one_user_block_the_user_only() -> None:
    lockout = AuthLockout(max_failures=5, window=300, base_delay=2, max_delay=600)
    for index in range(5):
        lockout.record_failure(float(index), f"198.51.100.{index}", USER)
    assert lockout.check(5.0, "203.0.113.99", USER) > 0  # any source, that user
    assert lockout.check(5.0, "203.0.113.99", "1002") == 0.0  # that source, another user
    assert lockout.check(5.0, "198.51.100.1", "1002") == 0.0


def test_one_source_against_many_users_blocks_the_source_only() -> None:
    lockout = AuthLockout(max_failures=5, window=300, base_delay=2, max_delay=600)
    for index in range(5):
        lockout.record_failure(float(index), SOURCE, f"20{index:02d}")
    assert lockout.check(5.0, SOURCE, "9999") > 0
    assert lockout.check(5.0, SOURCE, None) > 0
    assert lockout.check(5.0, "203.0.113.99", "2000") == 0.0


def test_without_a_username_only_the_source_counts() -> None:
    lockout = AuthLockout(max_failures=2, window=300, base_delay=2, max_delay=600)
    lockout.record_failure(0.0, SOURCE, None)
    assert lockout.record_failure(1.0, SOURCE, None) == 2.0
    assert len(lockout) == 1
    assert lockout.check(1.0, "203.0.113.99", USER) == 0.0


def test_the_longer_of_the_two_blocks_is_reported() -> None:
    lockout = AuthLockout(max_failures=1, window=300, base_delay=2, max_delay=600)
    lockout.record_failure(0.0, SOURCE, USER)  # both blocked 2 s
    lockout.record_failure(2.0, "203.0.113.7", USER)  # user now blocked 4 s more
    assert lockout.check(2.0, SOURCE, USER) == 4.0
    assert lockout.check(2.0, SOURCE, None) == 0.0


def test_memory_is_capped() -> None:
    lockout = AuthLockout(max_failures=5, window=300, base_delay=2, max_delay=600, max_entries=10)
    for index in range(100):
        lockout.record_failure(float(index) / 100, f"10.0.0.{index}", f"user{index}")
        assert len(lockout) <= 10


def test_the_most_recently_failing_keys_are_kept() -> None:
    lockout = AuthLockout(max_failures=1, window=300, base_delay=50, max_delay=600, max_entries=4)
    for index in range(10):
        lockout.record_failure(float(index), f"10.0.0.{index}", None)
    assert lockout.check(10.0, "10.0.0.9", None) > 0
    assert lockout.check(10.0, "10.0.0.6", None) > 0
    assert lockout.check(10.0, "10.0.0.0", None) == 0.0  # evicted


def test_entries_expire_after_the_window() -> None:
    lockout = AuthLockout(max_failures=5, window=300, base_delay=2, max_delay=600)
    for index in range(50):
        lockout.record_failure(0.0, f"10.0.0.{index}", f"user{index}")
    assert len(lockout) == 100
    assert lockout.check(300.0, SOURCE, USER) == 0.0
    assert len(lockout) == 100
    lockout.check(301.0, SOURCE, USER)
    assert len(lockout) == 0


def test_a_blocked_entry_is_kept_until_its_block_and_window_pass() -> None:
    lockout = AuthLockout(max_failures=1, window=10, base_delay=100, max_delay=100)
    lockout.record_failure(0.0, SOURCE, None)
    assert lockout.check(50.0, SOURCE, None) == 50.0
    assert len(lockout) == 1
    lockout.check(111.0, SOURCE, None)
    assert len(lockout) == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_failures": 0},
        {"window": 0.0},
        {"base_delay": 0.0},
        {"base_delay": 10.0, "max_delay": 5.0},
        {"max_entries": 1},
    ],
)
def test_constructor_validation(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        AuthLockout(**kwargs)  # type: ignore[arg-type]


events = st.lists(
    st.tuples(
        st.floats(min_value=0.0, max_value=1000.0),
        st.sampled_from(["a", "b", "c"]),
        st.sampled_from(["u", "v", None]),
        st.booleans(),
    ),
    max_size=60,
)


@given(events)
def test_blocks_stay_within_bounds(sequence: list[tuple[float, str, str | None, bool]]) -> None:
    lockout = AuthLockout(max_failures=3, window=100, base_delay=1, max_delay=50, max_entries=4)
    now = 0.0
    for step, source, username, failed in sequence:
        now += step
        if failed:
            blocked = lockout.record_failure(now, source, username)
            assert blocked == 0.0 or 1.0 <= blocked <= 50.0
        else:
            lockout.record_success(now, source, username)
            assert lockout.check(now, source, None) == 0.0
        assert 0.0 <= lockout.check(now, source, username) <= 50.0
        assert len(lockout) <= 4
