"""MiniRocket features and the ridge classifier: lengths exact, seeded, against scikit-learn."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import safetensors.torch
import torch

from rnnlab.errors import ConfigError, ShapeError
from rnnlab.models.ridge import DEFAULT_ALPHAS, RidgeClassifierCV
from rnnlab.models.rocket import NUM_KERNELS, RocketFeatures, fit_dilations
from rnnlab.models.rocket_classifier import RocketClassifier, RocketClassifierConfig


def _sequences(n=24, t=60, f=3, seed=0, min_length=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, t, f, generator=g)
    lengths = torch.randint(min_length, t + 1, (n,), generator=g)
    lengths[0] = t
    return x, lengths


def _pad_with(x, lengths, value):
    x = x.clone()
    x[torch.arange(x.shape[1])[None, :] >= lengths[:, None]] = value
    return x


@pytest.fixture(scope="module")
def fitted():
    x, lengths = _sequences(min_length=5)
    return RocketFeatures(num_features=840, seed=3).fit(x, lengths), x, lengths


def test_dilations_follow_minirocket_recipe():
    dilations, counts = fit_dilations(150, 10_000, 32)
    assert sum(counts) == 10_000 // NUM_KERNELS
    assert dilations == sorted(set(dilations)) and dilations[0] == 1
    assert dilations[-1] == math.floor(2 ** math.log2(149 / 8))  # (L - 1) / 8 rounded down
    assert fit_dilations(5, 10_000, 32) == ([1], [119])  # shorter than a kernel: one dilation


@pytest.mark.parametrize("value", [1e6, float("nan"), -float("inf")])
def test_features_never_read_padding(fitted, value):
    rocket, x, lengths = fitted
    want = rocket.transform(x, lengths)
    got = rocket.transform(_pad_with(x, lengths, value), lengths)
    assert torch.equal(want, got)


def test_each_sequence_alone_equals_batched(fitted):
    rocket, x, lengths = fitted
    batched = rocket.transform(x, lengths)
    for i in range(len(x)):
        alone = rocket.transform(x[i:i + 1, :lengths[i]], lengths[i:i + 1])
        torch.testing.assert_close(alone, batched[i:i + 1], atol=1e-5, rtol=0)


def test_features_do_not_depend_on_batch_mates(fitted):
    rocket, x, lengths = fitted
    batched = rocket.transform(x, lengths)
    padded = torch.cat([x, torch.randn(len(x), 40, 3) * 50], dim=1)  # T = 100, junk past 60
    mates = torch.randn(5, 100, 3) * 10  # five mates 100 steps long
    mixed = rocket.transform(torch.cat([mates, padded[:4]]),
                             torch.cat([torch.full((5,), 100), lengths[:4]]))
    torch.testing.assert_close(mixed[5:], batched[:4], atol=1e-5, rtol=0)


def test_length_zero_gives_zero_features_and_shapes(fitted):
    rocket, x, _ = fitted
    out = rocket.transform(x[:3], torch.tensor([0, 1, 60]))
    assert out.shape == (3, 840) and out.dtype == torch.float32
    assert torch.equal(out[0], torch.zeros(840))
    assert bool(((out >= 0) & (out <= 1)).all())
    with pytest.raises(ShapeError, match="channels"):
        rocket.transform(x[:, :, :2])
    with pytest.raises(ConfigError, match="outside"):
        rocket.transform(x[:2], torch.tensor([3, 61]))
    with pytest.raises(ConfigError, match="not fitted"):
        RocketFeatures(num_features=840).transform(x)


def test_ppv_matches_a_direct_convolution():
    # One kernel, one channel: the PPV computed by hand from the convolution's definition.
    x = torch.randn(1, 30, 1)
    rocket = RocketFeatures(num_features=NUM_KERNELS, max_dilations_per_kernel=1).fit(x)
    d = rocket.dilations[0]
    feats = rocket.transform(x[:, :20], torch.tensor([20]))
    seq = x[0, :20, 0].double()
    for k in (0, 1, 83):  # kernel 0 keeps padding, kernel 1 does not
        taps = [0, 1, 2] if k == 0 else ([0, 1, 3] if k == 1 else [6, 7, 8])
        w = torch.full((9,), -1.0, dtype=torch.float64)
        w[taps] = 2.0
        conv = [sum(w[i] * (seq[t + (i - 4) * d] if 0 <= t + (i - 4) * d < 20 else 0)
                    for i in range(9)) for t in range(20)]
        conv = torch.stack(conv)
        window = conv if k % 2 == 0 else conv[4 * d:20 - 4 * d]
        want = (window > rocket.biases[k]).double().mean()
        assert float(feats[0, k]) == pytest.approx(float(want), abs=1e-6)


def test_ppv_over_reference_scales_by_length_and_keeps_lengths_exact(fitted):
    rocket, x, lengths = fitted
    ref = RocketFeatures(num_features=840, seed=3, ppv_over="reference").fit(x, lengths)
    assert torch.equal(ref.biases, rocket.biases)
    full = torch.full((len(x),), 60)
    assert torch.equal(ref.transform(x, full), rocket.transform(x, full))  # equal lengths
    got = ref.transform(_pad_with(x, lengths, float("nan")), lengths)
    alone = torch.cat([ref.transform(x[i:i + 1, :lengths[i]], lengths[i:i + 1])
                       for i in range(len(x))])
    torch.testing.assert_close(alone, got, atol=1e-5, rtol=0)
    short = int(lengths.argmin())
    assert float(got[short].sum()) < float(rocket.transform(x, lengths)[short].sum())
    with pytest.raises(ConfigError, match="ppv_over"):
        RocketFeatures(ppv_over="padded")


def test_seeded_and_multichannel():
    x, lengths = _sequences(f=4, min_length=10)
    a = RocketFeatures(num_features=840, seed=1).fit(x, lengths)
    b = RocketFeatures(num_features=840, seed=1).fit(x, lengths)
    c = RocketFeatures(num_features=840, seed=2).fit(x, lengths)
    assert torch.equal(a.transform(x, lengths), b.transform(x, lengths))
    assert not torch.equal(a.biases, c.biases)
    used = a.channel_mask.sum(1)
    assert int(used.min()) >= 1 and int(used.max()) <= 4 and len(set(used.tolist())) > 1


def test_fit_reads_only_training_steps_and_transform_changes_nothing(fitted):
    rocket, x, lengths = fitted
    again = RocketFeatures(num_features=840, seed=3).fit(_pad_with(x, lengths, 1e6), lengths)
    assert torch.equal(again.biases, rocket.biases)
    assert torch.equal(again.channel_mask, rocket.channel_mask)
    before = rocket.biases.clone()
    rocket.transform(torch.randn(5, 60, 3) * 100)
    assert torch.equal(rocket.biases, before)


def test_features_state_dict_round_trip(fitted, tmp_path):
    rocket, x, lengths = fitted
    path = tmp_path / "rocket.safetensors"
    safetensors.torch.save_file(rocket.state_dict(), path)
    loaded = RocketFeatures.from_config(rocket.to_dict())
    loaded.load_state_dict(safetensors.torch.load_file(path))
    assert torch.equal(loaded.transform(x, lengths), rocket.transform(x, lengths))


def _blobs(n, d, classes, seed, sep=0.6):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    x = rng.normal(size=(n, d)) + sep * np.eye(classes, d)[y] * np.sqrt(d) / 3
    x[:, -1] = 2.0  # a constant feature: scaled by 1, as StandardScaler does
    return x, y


@pytest.mark.parametrize("n, d, classes, balanced", [
    (60, 200, 3, False), (200, 20, 4, False), (80, 300, 2, False), (90, 50, 3, True)])
def test_ridge_agrees_with_scikit_learn(n, d, classes, balanced):
    sklearn = pytest.importorskip("sklearn.linear_model")
    preprocessing = pytest.importorskip("sklearn.preprocessing")
    x, y = _blobs(n, d, classes, seed=n)
    if balanced:
        y[: n // 2] = 0
    x_test, _ = _blobs(50, d, classes, seed=n + 1)
    scaler = preprocessing.StandardScaler(with_mean=False).fit(x)
    ref = sklearn.RidgeClassifierCV(alphas=np.logspace(-3, 3, 10),
                                    class_weight="balanced" if balanced else None)
    ref.fit(scaler.transform(x), y)
    weight = None
    if balanced:
        weight = torch.tensor(n / (classes * np.bincount(y)[y]))
    ridge = RidgeClassifierCV().fit(torch.tensor(x), torch.tensor(y), sample_weight=weight)
    assert float(ridge.alpha) == pytest.approx(ref.alpha_, rel=1e-9)
    got = ridge.decision_function(torch.tensor(x_test)).numpy()
    want = ref.decision_function(scaler.transform(x_test))
    np.testing.assert_allclose(got[:, 1] if classes == 2 else got, want, atol=1e-8)
    assert np.array_equal(ridge.predict(torch.tensor(x_test)).numpy(),
                          ref.predict(scaler.transform(x_test)))


def _ridge_without(x, targets, i, alpha):
    """Reference: a ridge with an unpenalised intercept fitted on all but example i."""
    keep = np.arange(len(x)) != i
    xm, ym = x[keep].mean(0), targets[keep].mean(0)
    xc = x[keep] - xm
    coef = np.linalg.solve(xc.T @ xc + alpha * np.eye(x.shape[1]), xc.T @ (targets[keep] - ym))
    return (x[i] - xm) @ coef + ym


def test_ridge_loo_accuracy_matches_refitting_without_each_example():
    x, y = _blobs(40, 12, 3, seed=7, sep=2.0)
    ridge = RidgeClassifierCV().fit(torch.tensor(x), torch.tensor(y))
    assert ridge.alpha.item() in DEFAULT_ALPHAS
    scaled = (x - ridge.mean.numpy()) / ridge.scale.numpy()
    targets = np.where(np.eye(3)[y] > 0, 1.0, -1.0)
    alpha = float(ridge.alpha)
    hits = [_ridge_without(scaled, targets, i, alpha).argmax() == y[i] for i in range(40)]
    assert ridge.loo_accuracy == pytest.approx(np.mean(hits))
    assert 0.5 < ridge.loo_accuracy < 1.0  # the data is neither hopeless nor trivial
    proba = ridge.predict_proba(torch.tensor(x))
    torch.testing.assert_close(proba.sum(-1), torch.ones(40, dtype=torch.float64))
    assert torch.equal(proba.argmax(-1), ridge.predict(torch.tensor(x)))
    with pytest.raises(ConfigError, match="alphas"):
        RidgeClassifierCV(alphas=(0.0, 1.0))


def _toy(n, seed):
    """Two classes of variable-length, 2-channel sequences: a chirp against noise bursts."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(30, 81, (n,), generator=g)
    y = torch.arange(n) % 2
    t = torch.arange(80.0)[None, :]
    freq = torch.where(y[:, None] == 1, 0.05 + 0.004 * t, torch.full_like(t, 0.05))
    wave = torch.sin(2 * math.pi * freq * t + torch.rand(n, 1, generator=g) * 6.3)
    x = torch.stack([wave, torch.randn(n, 80, generator=g)], dim=-1)
    x[..., 0] += 0.3 * torch.randn(n, 80, generator=g)
    return _pad_with(x, lengths, float("nan")), lengths, y


@pytest.mark.parametrize("options", [{"ppv_over": "length"}, {"length_feature": True}])
def test_classifier_learns_a_toy_problem_and_round_trips(tmp_path, options):
    x, lengths, y = _toy(120, seed=0)
    model = RocketClassifier(RocketClassifierConfig(num_features=2_000, seed=0, **options))
    model.fit_closed_form(x, lengths, y)
    assert model.config.input_size == 2 and model.config.num_classes == 2
    assert model.config.reference_length == int(lengths.max())
    x_test, len_test, y_test = _toy(100, seed=1)
    logits = model(x_test, len_test)
    assert logits.shape == (100, 2) and logits.dtype == torch.float32
    assert float((logits.argmax(-1) == y_test).float().mean()) >= 0.9
    assert model.ridge.loo_accuracy >= 0.85
    assert next(model.parameters()) is not None  # the classify task finds its device

    path = tmp_path / "model.safetensors"
    safetensors.torch.save_file(model.state_dict(), path)
    loaded = RocketClassifier(RocketClassifierConfig(**vars(model.config)))
    loaded.load_state_dict(safetensors.torch.load_file(path))
    assert torch.equal(loaded(x_test, len_test), logits)
    alone = torch.cat([loaded(x_test[i:i + 1, :len_test[i]], len_test[i:i + 1])
                       for i in range(5)])
    torch.testing.assert_close(alone, logits[:5], atol=1e-5, rtol=0)


def test_transform_speed_is_measured():
    # 500 sequences x 300 steps x 3 channels on one thread: measured, never asserted.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        x, lengths = _sequences(n=500, t=300, f=3, min_length=150)
        rocket = RocketFeatures(seed=0).fit(x[:100], lengths[:100])
        start = time.perf_counter()
        out = rocket.transform(x, lengths)
        seconds = time.perf_counter() - start
    finally:
        torch.set_num_threads(threads)
    print(f"transform 500x300x3 -> {tuple(out.shape)} in {seconds:.2f} s on one thread")
    assert out.shape == (500, rocket.num_features)
