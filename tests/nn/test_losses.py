"""NCE and sampled softmax against direct float64 computations with TF1's formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rnnlab.errors import ConfigError, ShapeError
from rnnlab.nn.losses import (
    CandidateSample,
    log_uniform_candidate_sampler,
    nce_loss,
    sampled_softmax_loss,
    unigram_candidate_sampler,
)

V, D, B = 12, 5, 4


def _params(dtype=torch.float64):
    g = torch.Generator().manual_seed(3)
    w = torch.randn(V, D, generator=g, dtype=dtype, requires_grad=True)
    b = torch.randn(V, generator=g, dtype=dtype, requires_grad=True)
    x = torch.randn(B, D, generator=g, dtype=dtype, requires_grad=True)
    return w, b, x


def _fixed(labels, sampled):
    true_q = torch.full(labels.shape, 0.3, dtype=torch.float32) + labels.float() / 100
    sampled_q = torch.linspace(0.1, 0.9, len(sampled), dtype=torch.float32)
    return CandidateSample(torch.tensor(sampled), true_q, sampled_q)


def _direct_logits(w, b, x, labels, sv, remove_hits):
    """Row by row, in numpy float64, as TF's _compute_sampled_logits reads."""
    w, b, x = (t.detach().numpy().astype(np.float64) for t in (w, b, x))
    out = []
    for i in range(len(x)):
        true = [x[i] @ w[t] + b[t] - math.log(float(sv.true_expected_count[i, j]))
                for j, t in enumerate(labels[i].tolist())]
        samp = []
        for j, s in enumerate(sv.sampled.tolist()):
            z = x[i] @ w[s] + b[s] - math.log(float(sv.sampled_expected_count[j]))
            if remove_hits and s in labels[i].tolist():
                z += -np.finfo(np.float32).max
            samp.append(z)
        out.append((true, samp))
    return out


@pytest.mark.parametrize("num_true", [1, 2])
@pytest.mark.parametrize("remove_hits", [False, True])
def test_nce_matches_direct_computation(num_true, remove_hits):
    w, b, x = _params()
    labels = torch.tensor([[1, 4], [2, 3], [7, 0], [5, 5]])[:, :num_true]
    sv = _fixed(labels, [3, 9, 1, 11, 6])
    got = nce_loss(w, b, labels, x, 5, V, num_true=num_true, sampled_values=sv,
                   remove_accidental_hits=remove_hits)
    want = []
    for true, samp in _direct_logits(w, b, x, labels, sv, remove_hits):
        # sigmoid cross-entropy, true labels 1/num_true, sampled 0
        loss = sum(max(z, 0) - z / num_true + math.log1p(math.exp(-abs(z))) for z in true)
        loss += sum(max(z, 0) + math.log1p(math.exp(-abs(z))) for z in samp)
        want.append(loss)
    np.testing.assert_allclose(got.detach().numpy(), want, rtol=1e-10)


@pytest.mark.parametrize("num_true", [1, 2])
def test_sampled_softmax_matches_direct_computation(num_true):
    w, b, x = _params()
    labels = torch.tensor([[1, 4], [2, 3], [9, 0], [5, 6]])[:, :num_true]
    sv = _fixed(labels, [3, 9, 1, 11, 6])
    got = sampled_softmax_loss(w, b, labels, x, 5, V, num_true=num_true, sampled_values=sv)
    want = []
    for true, samp in _direct_logits(w, b, x, labels, sv, True):
        z = np.array(true + samp)
        lse = z.max() + math.log(np.exp(z - z.max()).sum())
        want.append(-sum((zt - lse) / num_true for zt in true))
    np.testing.assert_allclose(got.detach().numpy(), want, rtol=1e-10)


def test_accidental_hits_are_removed_from_the_softmax():
    w, b, x = _params()
    labels = torch.tensor([[3], [3], [3], [3]])
    sv = _fixed(labels, [3, 5])
    kept = sampled_softmax_loss(w, b, labels, x, 2, V, sampled_values=sv,
                                remove_accidental_hits=False)
    removed = sampled_softmax_loss(w, b, labels, x, 2, V, sampled_values=sv)
    only_5 = sampled_softmax_loss(w, b, labels, x, 1, V, sampled_values=CandidateSample(
        torch.tensor([5]), sv.true_expected_count, sv.sampled_expected_count[1:]))
    torch.testing.assert_close(removed, only_5)  # the hit contributes nothing
    assert bool((kept > removed).all())


def test_sampled_softmax_approaches_full_softmax():
    g = torch.Generator().manual_seed(0)
    Vb = 200
    w = torch.randn(Vb, 8, generator=g, dtype=torch.float64) * 0.5
    b = torch.zeros(Vb, dtype=torch.float64)
    x = torch.randn(16, 8, generator=g, dtype=torch.float64)
    labels = torch.randint(0, Vb, (16, 1), generator=g)
    full = torch.nn.functional.cross_entropy(x @ w.T + b, labels[:, 0], reduction="none")
    errors = []
    for n in (5, 50, 199):
        est = torch.stack([
            sampled_softmax_loss(w, b, labels, x, n, Vb, sampler="uniform", generator=g)
            for _ in range(20)
        ]).mean(0)  # fmt: skip
        errors.append(float((est - full).abs().mean()))
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.05


def test_gradients_reach_weights_biases_and_inputs():
    w, b, x = _params()
    labels = torch.tensor([[1], [2], [3], [4]])
    for fn in (nce_loss, sampled_softmax_loss):
        w.grad = b.grad = x.grad = None
        fn(w, b, labels, x, 4, V, generator=torch.Generator().manual_seed(1)).sum().backward()
        for t in (w, b, x):
            assert t.grad is not None and float(t.grad.abs().sum()) > 0
        assert torch.autograd.gradcheck(
            lambda w_, b_, x_, fn=fn: fn(w_, b_, labels, x_, 4, V, sampled_values=_fixed(
                labels, [0, 5, 7, 9])), (w, b, x))


def test_log_uniform_sampler_probabilities_and_expected_counts():
    labels = torch.tensor([[0], [5]])
    s = log_uniform_candidate_sampler(labels, 1, 3, False, 10, torch.Generator().manual_seed(0))
    p = [(math.log(k + 2) - math.log(k + 1)) / math.log(11) for k in range(10)]
    np.testing.assert_allclose(s.true_expected_count[:, 0], [3 * p[0], 3 * p[5]], rtol=1e-6)
    np.testing.assert_allclose(s.sampled_expected_count, [3 * p[k] for k in s.sampled], rtol=1e-6)
    # unique: distinct samples, expected count 1 - (1 - p)^tries, between p and num_sampled*p
    # unique: distinct samples; after t draws a class's expected count is 1 - (1 - p)^t,
    # or num_sampled * p when the first num_sampled draws were already distinct (TF)
    seen_tries = set()
    for seed in range(8):
        s = log_uniform_candidate_sampler(labels, 1, 8, True, 10,
                                          torch.Generator().manual_seed(seed))
        assert len(set(s.sampled.tolist())) == 8
        q = np.array([p[k] for k in s.sampled])
        if np.allclose(s.sampled_expected_count, 8 * q, rtol=1e-5):
            seen_tries.add(8)
            continue
        tries = [t for t in range(9, 500)
                 if np.allclose(s.sampled_expected_count, 1 - (1 - q) ** t, rtol=1e-5)]
        assert len(tries) == 1
        seen_tries.add(tries[0])
        np.testing.assert_allclose(s.true_expected_count[:, 0],
                                   1 - (1 - np.array([p[0], p[5]])) ** tries[0], rtol=1e-5)
    assert len(seen_tries) > 2
    # empirical frequencies follow the Zipfian law
    draws = log_uniform_candidate_sampler(labels, 1, 20000, False, 10,
                                          torch.Generator().manual_seed(1)).sampled
    freq = np.bincount(draws.numpy(), minlength=10) / 20000
    np.testing.assert_allclose(freq, p, atol=0.01)


def test_unigram_sampler_uses_distorted_counts():
    counts = np.array([100, 10, 1, 0])
    draws = unigram_candidate_sampler(torch.tensor([[0]]), 1, 40000, False, counts,
                                      generator=torch.Generator().manual_seed(0))
    q = counts**0.75 / (counts**0.75).sum()
    np.testing.assert_allclose(np.bincount(draws.sampled.numpy(), minlength=4) / 40000, q,
                               atol=0.01)
    np.testing.assert_allclose(draws.true_expected_count[0, 0], 40000 * q[0], rtol=1e-5)


def test_bad_arguments():
    w, b, x = _params()
    with pytest.raises(ShapeError):
        nce_loss(w, b, torch.tensor([[1, 2]]), x, 3, V)
    with pytest.raises(ConfigError, match="sampler"):
        nce_loss(w, b, torch.tensor([[1]] * B), x, 3, V, sampler="zipf")
    with pytest.raises(ConfigError):
        log_uniform_candidate_sampler(torch.tensor([[1]]), 1, 11, True, 10)
