"""ChannelScaler: fitted on valid steps only, applied with training statistics, saved as JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnlab.data.sequence_set import SequenceSet
from rnnlab.data.standardize import ChannelScaler
from rnnlab.data.synthetic_sequences import make_sequences
from rnnlab.errors import ConfigError, DataError


def _set(seqs):
    seqs = [np.asarray(s, dtype=np.float32) for s in seqs]
    n, f = len(seqs), seqs[0].shape[1]
    return SequenceSet(seqs, [-1] * n, (), tuple(f"c{i}" for i in range(f)),
                       tuple(str(i) for i in range(n)))


def test_fit_uses_the_valid_steps_only():
    data = _set([[[1.0, 10.0], [3.0, 30.0], [5.0, 50.0]], [[7.0, 70.0]]])
    scaler = ChannelScaler.fit(data)
    steps = np.array([[1, 10], [3, 30], [5, 50], [7, 70]], dtype=np.float64)
    np.testing.assert_allclose(scaler.mean, steps.mean(0))
    np.testing.assert_allclose(scaler.std, steps.std(0))
    x, _ = data.padded()  # the zero padding would pull the mean down
    assert not np.allclose(scaler.mean, x.reshape(-1, 2).mean(0))
    out = np.concatenate(scaler.transform(data).sequences).astype(np.float64)
    np.testing.assert_allclose(out.mean(0), 0, atol=1e-6)
    np.testing.assert_allclose(out.std(0), 1, atol=1e-6)


def test_transform_applies_the_training_statistics_to_other_sets():
    train = make_sequences(40, seed=0)
    test = make_sequences(10, seed=1)
    scaler = ChannelScaler.fit(train)
    got = scaler.transform(test)
    for raw, scaled in zip(test.sequences, got.sequences, strict=True):
        want = (raw.astype(np.float64) - np.array(scaler.mean)) / np.array(scaler.std)
        np.testing.assert_allclose(scaled, want, rtol=1e-5, atol=1e-6)
        assert scaled.dtype == np.float32
    assert got.y.tolist() == test.y.tolist() and got.ids == test.ids
    assert got.lengths.tolist() == test.lengths.tolist()


def test_constant_channels_stay_finite():
    data = _set([[[5.0, 0.1], [5.0, 0.2]], [[5.0, 0.3]]])
    scaler = ChannelScaler.fit(data)
    assert scaler.std[0] == 1.0 and scaler.mean[0] == 5.0
    out = scaler.transform(data)
    assert all(np.isfinite(s).all() for s in out.sequences)
    assert [s[:, 0].tolist() for s in out.sequences] == [[0, 0], [0]]
    one = ChannelScaler.fit(_set([[[1e6 + 0.1]] * 3]))  # float32 rounding, not spread
    assert one.std == (1.0,)


def test_round_trips_through_json(tmp_path):
    scaler = ChannelScaler.fit(make_sequences(20, seed=2))
    again = ChannelScaler.from_dict(json.loads(json.dumps(scaler.to_dict())))
    assert again == scaler
    assert ChannelScaler.load(scaler.save(tmp_path / "scaler.json")) == scaler


@pytest.mark.parametrize(
    "d",
    [
        {"kind": "standard", "mean": [0.0], "std": [1.0]},
        {"kind": "channel_standard", "mean": [0.0]},
        {"kind": "channel_standard", "mean": [0.0], "std": [0.0]},
        {"kind": "channel_standard", "mean": [0.0, 1.0], "std": [1.0]},
        {"kind": "channel_standard", "mean": ["x"], "std": [1.0]},
        {"kind": "channel_standard", "mean": [0.0], "std": [1.0], "extra": 1},
        [1, 2],
    ],
)
def test_from_dict_refuses_anything_else(d):
    with pytest.raises(DataError):
        ChannelScaler.from_dict(d)


def test_load_refuses_bad_json(tmp_path):
    (tmp_path / "s.json").write_text("{nope")
    with pytest.raises(DataError, match="not valid JSON"):
        ChannelScaler.load(tmp_path / "s.json")


def test_mismatched_channels_and_bad_arguments():
    scaler = ChannelScaler((0.0, 0.0), (1.0, 1.0))
    with pytest.raises(DataError, match="3 channels, but the scaler was fitted on 2"):
        scaler.transform(make_sequences(3, num_features=3))
    with pytest.raises(ConfigError, match="std"):
        ChannelScaler((0.0,), (-1.0,))
    with pytest.raises(ConfigError, match="non-empty SequenceSet"):
        ChannelScaler.fit(np.ones((2, 3, 1)))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.floats(-1e4, 1e4, width=32), min_size=3, max_size=3),
                min_size=1, max_size=20))
def test_inverse_undoes_transform(rows):
    data = _set([np.array(rows)])
    scaler = ChannelScaler.fit(data)
    x = data.sequences[0]
    np.testing.assert_allclose(scaler.inverse_array(scaler.transform_array(x)), x,
                               rtol=1e-5, atol=1e-2)
    assert np.isfinite(scaler.transform_array(x)).all()
