"""judgekit.rl.shaping: pure functions, None kept where it is."""

import math

import pytest

from judgekit.rl.shaping import (
    Shaping,
    clip_rewards,
    group_indices,
    group_normalize,
    length_debias,
    shape_rewards,
    veto_penalty,
)


def test_group_indices_keeps_first_appearance_order():
    assert group_indices(["b", "a", "b", "c", "a"]) == [[0, 2], [1, 4], [3]]


def test_group_normalize_per_group_and_none_kept():
    out = group_normalize([1.0, 0.0, None, 0.5, 0.5], ["a", "a", "a", "b", "b"], eps=0.0 + 1e-9)
    assert out[0] == pytest.approx(1.0) and out[1] == pytest.approx(-1.0)
    assert out[2] is None
    assert out[3] == pytest.approx(0.0) and out[4] == pytest.approx(0.0)  # no spread: all zero, no division blow-up
    assert group_normalize([None, None], ["a", "a"]) == [None, None]


def test_group_normalize_mean_zero_std_one():
    values = [0.1, 0.4, 0.9, 0.6]
    out = group_normalize(values, [0] * 4, eps=0.0)
    assert sum(out) == pytest.approx(0.0, abs=1e-12)
    assert math.sqrt(sum(v * v for v in out) / 4) == pytest.approx(1.0)


def test_clip():
    assert clip_rewards([-2.0, 0.5, 3.0, None], -1, 1) == [-1.0, 0.5, 1.0, None]
    with pytest.raises(ValueError):
        clip_rewards([0.0], 1, 0)


def test_veto_penalty_only_on_vetoed_scored():
    assert veto_penalty([0.0, 0.7, None], [True, False, True], -1.0) == [-1.0, 0.7, None]


def test_length_debias_removes_slope_keeps_mean():
    lengths = [1, 3, 7, 15, 31]
    # a reward that grows exactly linearly with log(1 + length): all of it is length, none is kept
    rewards = [0.1 * math.log1p(n) for n in lengths]
    out = length_debias(rewards, lengths, [0] * 5)
    mean = sum(rewards) / 5
    assert all(v == pytest.approx(mean) for v in out)
    # a reward independent of length (zero covariance) is unchanged
    flat = [0.5, 0.2, 0.9, 0.2, 0.5]
    out_flat = length_debias(flat, [1, 2, 4, 2, 1], [0] * 5)
    assert sum(out_flat) / 5 == pytest.approx(sum(flat) / 5)


def test_length_debias_leaves_small_or_flat_groups():
    assert length_debias([0.2, 0.8], [1, 100], [0, 0]) == [0.2, 0.8]
    assert length_debias([0.2, 0.8, 0.5], [5, 5, 5], [0, 0, 0]) == [0.2, 0.8, 0.5]
    assert length_debias([0.2, None, 0.8, 0.5], [1, 2, 50, 9], [0] * 4)[1] is None


def test_shape_rewards_default_is_identity_and_order_is_fixed():
    raw = [0.0, 0.5, None, 1.0]
    assert shape_rewards(raw, Shaping()) == raw
    out = shape_rewards([0.0, 1.0], Shaping(veto_penalty=-1.0, normalize=True, clip=(-0.5, 0.5)), keys=[0, 0],
                        vetoed=[True, False])
    # veto first (-1 vs 1), then normalised (-1, 1), then clipped
    assert out == [-0.5, 0.5]
    with pytest.raises(ValueError):
        shape_rewards([0.1, 0.2, 0.3], Shaping(length_debias=True))
    assert Shaping(normalize=True).needs_groups and not Shaping(clip=(0, 1)).needs_groups
