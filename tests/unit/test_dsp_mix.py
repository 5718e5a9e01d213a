"""Mixing: kernels equal their numpy twins, saturate once, and mix-minus excludes self."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.typing import NDArray

from dsp.mix import (
    mix,
    mix_into,
    mix_matrix,
    mix_matrix_into,
    mix_matrix_reference,
    mix_minus,
    mix_minus_into,
    mix_minus_reference,
    mix_reference,
    warm_up,
)

FRAME = 160


def streams(n: int, seed: int = 0, scale: int = 32768) -> NDArray[np.int16]:
    rng = np.random.default_rng(seed)
    return rng.integers(-scale, scale, size=(n, FRAME)).astype(np.int16)


@pytest.mark.parametrize("n", [1, 2, 3, 8, 17, 64])
def test_mix_equals_the_twin_for_1_to_64_streams(n: int) -> None:
    for scale in (32768, 1000):  # saturating, and not
        x = streams(n, seed=n, scale=scale)
        assert np.array_equal(mix(x), mix_reference(x))
        assert np.array_equal(mix_minus(x), mix_minus_reference(x))


def test_each_stream_count_from_1_to_64() -> None:
    for n in range(1, 65):
        x = streams(n, seed=100 + n, scale=4000)
        total = x.astype(np.int64).sum(axis=0)
        assert np.array_equal(mix(x), np.clip(total, -32768, 32767))
        others = total[None, :] - x.astype(np.int64)
        assert np.array_equal(mix_minus(x), np.clip(others, -32768, 32767))


def test_mix_saturates_once_at_the_end() -> None:
    x = np.array(
        [[30000, -30000, 20000], [30000, -30000, 20000], [-30000, 30000, -7000]], dtype=np.int16
    )
    # 30000 + 30000 - 30000 = 30000: the partial sum 60000 is not clipped on the way.
    assert mix(x).tolist() == [30000, -30000, 32767]
    assert mix(x[:2]).tolist() == [32767, -32768, 32767]


def test_mix_minus_row_is_everyone_but_self() -> None:
    x = np.array([[1000, 30000], [2000, 30000], [4000, -100]], dtype=np.int16)
    assert mix_minus(x).tolist() == [[6000, 29900], [5000, 29900], [3000, 32767]]


def test_single_participant_hears_silence() -> None:
    x = streams(1, seed=5)
    assert np.array_equal(mix(x), x[0])
    assert not mix_minus(x).any()


def test_no_streams_mix_to_silence() -> None:
    empty = np.zeros((0, FRAME), dtype=np.int16)
    assert not mix(empty).any() and mix(empty).shape == (FRAME,)
    assert mix_minus(empty).shape == (0, FRAME)


@pytest.mark.parametrize("n", [1, 2, 5, 64])
def test_weighted_mixes_match_the_twin(n: int) -> None:
    x = streams(n, seed=n)
    weights = np.random.default_rng(n).uniform(0.0, 2.0, n)
    assert np.abs(mix(x, weights).astype(np.int32) - mix_reference(x, weights)).max() <= 1
    got = mix_minus(x, weights).astype(np.int32)
    assert np.abs(got - mix_minus_reference(x, weights)).max() <= 1


def test_unit_weights_equal_the_integer_path() -> None:
    x = streams(6, seed=9)
    ones = [1.0] * 6
    assert np.array_equal(mix(x, ones), mix(x))
    assert np.array_equal(mix_minus(x, ones), mix_minus(x))


def test_half_gain_rounds_to_nearest() -> None:
    x = np.array([[3, -3, 1001]], dtype=np.int16)
    assert mix(x, [0.5]).tolist() == [2, -1, 501]  # floor(v + 0.5)


def test_matrix_routes_listen_whisper_and_barge() -> None:
    caller, agent, supervisor = 1000, 2000, 4000
    x = np.array([[caller] * 4, [agent] * 4, [supervisor] * 4], dtype=np.int16)
    gains = np.array(
        [
            [0, 1, 0],  # caller hears the agent only (the supervisor whispers)
            [1, 0, 1],  # agent hears caller and supervisor
            [1, 1, 0],  # supervisor listens to both
        ],
        dtype=np.float64,
    )
    out = mix_matrix(x, gains)
    assert out[:, 0].tolist() == [agent, caller + supervisor, caller + agent]
    assert np.array_equal(out, mix_matrix_reference(x, gains))


@settings(max_examples=40, deadline=None)
@given(
    x=hnp.arrays(np.int16, hnp.array_shapes(min_dims=2, max_dims=2, max_side=20)),
    data=st.data(),
)
def test_matrix_matches_the_twin(x: NDArray[np.int16], data: st.DataObject) -> None:
    n_out = data.draw(st.integers(0, 6))
    gains = data.draw(hnp.arrays(np.float64, (n_out, x.shape[0]), elements=st.floats(-2.0, 2.0)))
    got = mix_matrix(x, gains).astype(np.int32)
    assert got.shape == (n_out, x.shape[1])
    assert got.size == 0 or np.abs(got - mix_matrix_reference(x, gains)).max() <= 1


@settings(max_examples=40, deadline=None)
@given(x=hnp.arrays(np.int16, hnp.array_shapes(min_dims=2, max_dims=2, max_side=40)))
def test_mix_minus_equals_summing_the_others(x: NDArray[np.int16]) -> None:
    assert np.array_equal(mix_minus(x), mix_minus_reference(x))
    assert np.array_equal(mix(x), mix_reference(x))


def test_into_variants_fill_the_given_arrays() -> None:
    x = streams(4, seed=1)
    out = np.empty(FRAME, dtype=np.int16)
    assert mix_into(x, out) is out and np.array_equal(out, mix_reference(x))
    rows = np.empty((4, FRAME), dtype=np.int16)
    assert mix_minus_into(x, rows) is rows and np.array_equal(rows, mix_minus_reference(x))
    routed = np.empty((2, FRAME), dtype=np.int16)
    gains = np.eye(2, 4)
    assert mix_matrix_into(x, gains, routed) is routed and np.array_equal(routed, x[:2])


def test_bad_shapes_are_rejected() -> None:
    x = streams(3)
    with pytest.raises(ValueError, match="2-D int16"):
        mix(x[0])
    with pytest.raises(ValueError, match="2-D int16"):
        mix(x.astype(np.int32))
    with pytest.raises(ValueError, match="one gain per stream"):
        mix_minus(x, [1.0, 1.0])
    with pytest.raises(ValueError, match="finite"):
        mix(x, [1.0, float("nan"), 1.0])
    with pytest.raises(ValueError, match="shape"):
        mix_minus_into(x, np.empty((2, FRAME), dtype=np.int16))
    with pytest.raises(ValueError, match="gains"):
        mix_matrix(x, np.ones((2, 2)))


def test_non_contiguous_streams_are_accepted() -> None:
    x = streams(6, seed=2)
    assert np.array_equal(mix(x[::2]), mix_reference(x[::2]))


def test_warm_up_compiles_what_the_media_path_calls() -> None:
    from dsp import mix as module

    warm_up()
    kernels = [getattr(module, name) for name in dir(module) if name.endswith("_kernel")]
    compiled = [len(k.signatures) for k in kernels]
    x = streams(5)
    frozen = x.copy()
    frozen.flags.writeable = False
    for s in (x, frozen):
        mix(s)
        mix(s, np.ones(5))
        mix_minus(s)
        mix_minus(s, [0.5] * 5)
        mix_matrix(s, np.ones((2, 5)))
    assert [len(k.signatures) for k in kernels] == compiled
