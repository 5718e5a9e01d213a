"""The simplified E-model (ITU-T G.107) on known points and its monotonic behaviour."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from media.quality import (
    DELAY_KNEE_MS,
    R_DEFAULT,
    codec_impairment,
    delay_impairment,
    effective_equipment_impairment,
    mos_from_r,
    mouth_to_ear_delay_ms,
    quality_from_network,
    r_factor,
)


def test_default_rating_is_mos_4_41() -> None:
    assert r_factor(0.0, 0.0) == pytest.approx(R_DEFAULT) == pytest.approx(93.2)
    assert mos_from_r(93.2) == pytest.approx(4.41, abs=0.005)


@pytest.mark.parametrize(
    ("r", "mos"),
    [
        (-5.0, 1.0),
        (0.0, 1.0),
        (50.0, 2.575),  # 1 + 1.75 + 50 * -10 * 50 * 7e-6
        (60.0, 3.1),  # the cubic term vanishes at R = 60
        (80.0, 4.024),  # 1 + 2.8 + 80 * 20 * 20 * 7e-6
        (100.0, 4.5),
        (120.0, 4.5),
    ],
)
def test_mos_from_r_annex_b(r: float, mos: float) -> None:
    assert mos_from_r(r) == pytest.approx(mos)


def test_g711_loss_robustness_from_g113() -> None:
    pcmu = codec_impairment("PCMU")
    assert (pcmu.ie, pcmu.bpl, pcmu.bpl_plc) == (0.0, 4.3, 25.1)
    assert codec_impairment("pcma") == codec_impairment("PCMA")
    assert codec_impairment("G.722").ie == 0.0


def test_effective_impairment_formula() -> None:
    # Ie,eff = Ie + (95 - Ie) * Ppl / (Ppl / BurstR + Bpl)
    assert effective_equipment_impairment(2.0, plc=False) == pytest.approx(95 * 2 / (2 + 4.3))
    assert effective_equipment_impairment(2.0) == pytest.approx(95 * 2 / (2 + 25.1))
    assert effective_equipment_impairment(2.0, burst_ratio=2.0) == pytest.approx(
        95 * 2 / (1 + 25.1)
    )
    assert effective_equipment_impairment(0.0) == 0.0


def test_concealment_and_random_loss_rate_better() -> None:
    assert r_factor(0, 3, plc=True) > r_factor(0, 3, plc=False)
    assert r_factor(0, 3, burst_ratio=1.0) > r_factor(0, 3, burst_ratio=3.0)


def test_delay_costs_little_before_the_knee_and_much_after() -> None:
    assert delay_impairment(0) == 0.0
    assert delay_impairment(100) == pytest.approx(2.4)
    assert delay_impairment(DELAY_KNEE_MS) == pytest.approx(0.024 * 177.3)
    below = delay_impairment(DELAY_KNEE_MS) - delay_impairment(DELAY_KNEE_MS - 50)
    above = delay_impairment(DELAY_KNEE_MS + 50) - delay_impairment(DELAY_KNEE_MS)
    assert below == pytest.approx(50 * 0.024)
    assert above == pytest.approx(50 * (0.024 + 0.11))
    assert r_factor(300, 0) == pytest.approx(93.2 - 0.024 * 300 - 0.11 * (300 - 177.3))


def test_a_good_call_and_a_bad_call() -> None:
    good = mos_from_r(r_factor(mouth_to_ear_delay_ms(20, 40), 0.5))
    bad = mos_from_r(r_factor(mouth_to_ear_delay_ms(250, 120), 8.0))
    assert good > 4.2
    assert bad < 3.0


@given(
    st.floats(0, 1000, allow_nan=False),
    st.floats(0, 100, allow_nan=False),
    st.floats(0, 100, allow_nan=False),
)
def test_more_loss_never_rates_higher(delay: float, loss_a: float, loss_b: float) -> None:
    low, high = sorted((loss_a, loss_b))
    assert r_factor(delay, high) <= r_factor(delay, low)


@given(st.floats(0, 2000, allow_nan=False), st.floats(0, 2000, allow_nan=False))
def test_more_delay_never_rates_higher(delay_a: float, delay_b: float) -> None:
    low, high = sorted((delay_a, delay_b))
    assert r_factor(high, 1.0) <= r_factor(low, 1.0)


def test_strictly_lower_with_loss() -> None:
    ratings = [r_factor(40, loss) for loss in (0, 0.5, 1, 2, 5, 10, 20)]
    assert ratings == sorted(ratings, reverse=True)
    assert len(set(ratings)) == len(ratings)


@given(st.floats(-50, 150, allow_nan=False))
def test_mos_stays_in_range_and_grows_with_r(r: float) -> None:
    assert 1.0 <= mos_from_r(r) <= 4.5
    assert mos_from_r(r) <= mos_from_r(r + 1)


def test_rating_is_clamped_to_the_scale() -> None:
    assert r_factor(5000, 100) == 0.0


def test_quality_from_network() -> None:
    delay, r, mos = quality_from_network(rtt_ms=100, jitter_ms=10, loss_fraction=0.01)
    assert delay == pytest.approx(50 + 20 + 20)  # half RTT, 2 x jitter, one packet
    assert r == pytest.approx(r_factor(delay, 1.0))
    assert mos == pytest.approx(mos_from_r(r))
    unknown_rtt, _, _ = quality_from_network(None, 0, 0, jitter_buffer_ms=60)
    assert unknown_rtt == pytest.approx(80)


@pytest.mark.parametrize(
    "call",
    [
        lambda: r_factor(0, -1),
        lambda: r_factor(0, 101),
        lambda: r_factor(0, 1, burst_ratio=0),
        lambda: r_factor(0, 1, codec="GSM"),
    ],
    ids=["negative loss", "loss over 100", "zero burst ratio", "unknown codec"],
)
def test_bad_arguments_raise_value_error(call: Callable[[], float]) -> None:
    with pytest.raises(ValueError):
        call()
