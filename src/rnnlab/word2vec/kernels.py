"""Compiled inner loops of the word2vec trainers (numba, ``nogil`` so threads run in parallel).

``rnnlab.word2vec`` (its package docstring and :mod:`rnnlab.word2vec.engine`) owns the
design. Each kernel is compiled for one set of argument types (float32 C arrays), cached on
disk:

- ``train_chunk`` trains one chunk of sentences in place and returns (loss sum, pairs, words).
- ``merge_rows`` folds the updates of several in-process shard copies into the base matrix.
- ``pack_deltas``, ``apply_deltas`` and ``apply_capped`` do the same across processes: pack
  a rank's touched rows' deltas, then add every rank's, in rank order.

The random generator is splitmix64 on a private state seeded per chunk, so a chunk's
updates depend only on (seed, epoch, chunk index) and the parameters it starts from.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

MODEL_SKIPGRAM, MODEL_CBOW = 0, 1
LOSS_NEG, LOSS_NCE, LOSS_SOFTMAX = 0, 1, 2

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_INV53 = 1.0 / 9007199254740992.0  # 2**-53


@njit(inline="always")
def _uniform(rng):
    """splitmix64 step on rng[0]; a float64 uniform in [0, 1)."""
    rng[0] += _GOLDEN
    z = rng[0]
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    z = z ^ (z >> _S31)
    return float(z >> _S11) * _INV53


@njit(inline="always")
def _noise(rng, alias_p, alias_i):
    """Draw a word from the noise distribution with Walker's alias method (O(1))."""
    x = _uniform(rng) * alias_p.shape[0]
    i = int(x)
    if i >= alias_p.shape[0]:
        i = alias_p.shape[0] - 1
    return i if x - i < alias_p[i] else alias_i[i]


# sigmoid(x) and log1p(exp(-x)) tabulated on [0, 16] every 1/256 and interpolated linearly:
# both are smooth, so the error is under 1e-6 (tests/test_word2vec.py checks it), and two
# table reads cost far less than the exp and log1p they replace (the loss of every pair is
# kept, so the reported loss stays the true one). Beyond 16 the values are 1 and 0 to
# float32 precision. word2vec.c and gensim use a coarser table and skip large logits.
_TABLE_MAX = 16.0
_TABLE_SIZE = 4096
_TABLE_X = np.arange(_TABLE_SIZE + 2) * (_TABLE_MAX / _TABLE_SIZE)
_SIGMOID = 1.0 / (1.0 + np.exp(-_TABLE_X))
_LOG1P_EXP = np.log1p(np.exp(-_TABLE_X))


@njit(inline="always")
def _softplus_parts(f):
    """(sigmoid(f), log1p(exp(-|f|))) by interpolation in the tables above."""
    a = abs(f)
    if a < _TABLE_MAX:
        x = a * (_TABLE_SIZE / _TABLE_MAX)
        i = int(x)
        t = x - i
        s = _SIGMOID[i] + t * (_SIGMOID[i + 1] - _SIGMOID[i])
        l1p = _LOG1P_EXP[i] + t * (_LOG1P_EXP[i + 1] - _LOG1P_EXP[i])
    elif a >= _TABLE_MAX:
        s, l1p = 1.0, 0.0
    else:  # NaN: never index the tables with it, and let the loss show it
        s, l1p = f, f
    if f < 0.0:
        s = 1.0 - s
    return s, l1p


@njit(nogil=True, fastmath=True, cache=True)
def _binary_update(src, row, word, syn1, bias, logkq, alias_p, alias_i, touched1, rng,
                   loss_kind, negative, lr, neu1e):
    """Negative sampling (loss_kind 0) or NCE (1) for one (input vector, target) pair.

    src[row] is the input vector h; neu1e receives the gradient step for h. Negative
    sampling skips noise words equal to the target (word2vec.c); NCE keeps them (TF's
    default) and corrects every logit by -log(k q(w)).
    """
    D = syn1.shape[1]
    loss = 0.0
    for k in range(D):
        neu1e[k] = 0.0
    for d in range(negative + 1):
        if d == 0:
            target = word
            label = 1.0
        else:
            target = _noise(rng, alias_p, alias_i)
            if loss_kind == 0 and target == word:
                continue
            label = 0.0
        f = np.float32(0.0)
        for k in range(D):
            f += src[row, k] * syn1[target, k]
        f64 = float(f)
        if loss_kind == 1:
            f64 += bias[target] - logkq[target]
        s, l1p = _softplus_parts(f64)
        if label > 0.0:
            loss += max(-f64, 0.0) + l1p
        else:
            loss += max(f64, 0.0) + l1p
        g = np.float32((label - s) * lr)
        for k in range(D):
            neu1e[k] += g * syn1[target, k]
        for k in range(D):
            syn1[target, k] += g * src[row, k]
        if loss_kind == 1:
            bias[target] += g
        touched1[target] = 1
    return loss


@njit(nogil=True, fastmath=True, cache=True)
def _softmax_update(src, row, word, syn1, bias, logkq, alias_p, alias_i, touched1, rng,
                    negative, lr, neu1e, cand, logits):
    """Sampled softmax for one pair: the target against `negative` draws (with replacement),
    logits corrected by -log(k q(w)), accidental hits removed."""
    D = syn1.shape[1]
    for k in range(D):
        neu1e[k] = 0.0
    top = -1e300
    for d in range(negative + 1):
        target = word if d == 0 else _noise(rng, alias_p, alias_i)
        cand[d] = target
        if d > 0 and target == word:
            logits[d] = -np.inf
            continue
        f = np.float32(0.0)
        for k in range(D):
            f += src[row, k] * syn1[target, k]
        logits[d] = float(f) + bias[target] - logkq[target]
        top = max(top, logits[d])
    z = 0.0
    for d in range(negative + 1):
        if logits[d] != -np.inf:
            z += math.exp(logits[d] - top)
    loss = -(logits[0] - top - math.log(z))
    for d in range(negative + 1):
        if logits[d] == -np.inf:
            continue
        target = cand[d]
        p = math.exp(logits[d] - top) / z
        g = np.float32(((1.0 if d == 0 else 0.0) - p) * lr)
        for k in range(D):
            neu1e[k] += g * syn1[target, k]
        for k in range(D):
            syn1[target, k] += g * src[row, k]
        bias[target] += g
        touched1[target] = 1
    return loss


@njit(nogil=True, fastmath=True, cache=True)
def train_chunk(tokens, offsets, s_lo, s_hi, remap, keep, syn0, syn1, bias, logkq,
                alias_p, alias_i, touched0, touched1, model, loss_kind, window, negative,
                alpha, min_alpha, words_before, total_words, seed, buf, work):
    """Train sentences [s_lo, s_hi) in place; return (loss sum, pairs, kept words).

    Args:
        tokens: (N,) int32 provisional ids of the streamed corpus (memory-mapped).
        offsets: (S + 1,) int64 sentence boundaries into tokens.
        remap: (P,) int32 provisional id -> vocabulary id, -1 when not in the vocabulary.
        keep: (V,) float32 probability of keeping each word (frequent-word subsampling).
        syn0, syn1: (V, D) float32 input and output vectors, updated in place.
        bias: (V,) float32 output biases (NCE and sampled softmax only).
        logkq: (V,) float64 log(k q(w)) of the noise distribution.
        alias_p, alias_i: (V,) alias table of the noise distribution.
        touched0, touched1: (V,) uint8 set to 1 on each row of syn0 / syn1 this chunk moves.
        words_before: raw words of the whole run before this chunk (learning-rate schedule).
        total_words: raw words of the whole run (epochs x corpus).
        seed: uint64 seed of this chunk.
        buf: (max sentence length,) int64 scratch; work: (2, D) float32 scratch.
    """
    rng = np.empty(1, np.uint64)
    rng[0] = seed
    neu1e = work[1]
    cand = np.empty(negative + 1, np.int64)
    logits = np.empty(negative + 1, np.float64)
    D = syn0.shape[1]
    loss = 0.0
    pairs = 0
    kept = 0
    done = words_before
    for s in range(s_lo, s_hi):
        start = offsets[s]
        end = offsets[s + 1]
        lr = alpha - (alpha - min_alpha) * (done / total_words)
        if lr < min_alpha:
            lr = min_alpha
        done += end - start
        n = 0
        for t in range(start, end):
            w = remap[tokens[t]]
            if w < 0:
                continue
            if keep[w] < 1.0 and _uniform(rng) >= keep[w]:
                continue
            buf[n] = w
            n += 1
        kept += n
        for i in range(n):
            b = int(_uniform(rng) * window)  # reduced window, as word2vec.c
            lo = max(0, i - window + b)
            hi = min(n, i + window + 1 - b)
            word = buf[i]
            if model == 0:
                for j in range(lo, hi):
                    if j == i:
                        continue
                    ctx = buf[j]
                    if loss_kind == 2:
                        loss += _softmax_update(syn0, ctx, word, syn1, bias, logkq, alias_p,
                                                alias_i, touched1, rng, negative, lr, neu1e,
                                                cand, logits)
                    else:
                        loss += _binary_update(syn0, ctx, word, syn1, bias, logkq, alias_p,
                                               alias_i, touched1, rng, loss_kind, negative,
                                               lr, neu1e)
                    for k in range(D):
                        syn0[ctx, k] += neu1e[k]
                    touched0[ctx] = 1
                    pairs += 1
            else:
                cnt = hi - lo - 1
                if cnt <= 0:
                    continue
                for k in range(D):
                    work[0, k] = 0.0
                for j in range(lo, hi):
                    if j != i:
                        for k in range(D):
                            work[0, k] += syn0[buf[j], k]
                inv = np.float32(1.0 / cnt)
                for k in range(D):
                    work[0, k] *= inv
                if loss_kind == 2:
                    loss += _softmax_update(work, 0, word, syn1, bias, logkq, alias_p, alias_i,
                                            touched1, rng, negative, lr, neu1e, cand, logits)
                else:
                    loss += _binary_update(work, 0, word, syn1, bias, logkq, alias_p, alias_i,
                                           touched1, rng, loss_kind, negative, lr, neu1e)
                # the mean's gradient goes whole to every context word, as word2vec.c/gensim
                for j in range(lo, hi):
                    if j != i:
                        for k in range(D):
                            syn0[buf[j], k] += neu1e[k]
                        touched0[buf[j]] = 1
                pairs += 1
    return loss, pairs, kept


@njit(nogil=True, cache=True)
def merge_rows(base, copies, touched, lo, hi):
    """Fold shard updates into base for rows [lo, hi), then resync every copy.

    new = base + sum over the shards s that touched the row of (copies[s] - base), in shard
    order, so the result does not depend on which thread ran which shard. (Summing is what
    Hogwild does; averaging instead was tried and cost 0.04 analogy accuracy on aclImdb.)

    Args:
        base: (V, D) float32; copies: (S, V, D) float32; touched: (S, V) uint8 (cleared).
    """
    S = copies.shape[0]
    D = base.shape[1]
    for r in range(lo, hi):
        n = 0
        for s in range(S):
            n += touched[s, r]
        if n == 0:
            continue
        for k in range(D):
            b = base[r, k]
            acc = b
            for s in range(S):
                if touched[s, r]:
                    acc += copies[s, r, k] - b
            base[r, k] = acc
            for s in range(S):
                copies[s, r, k] = acc
        for s in range(S):
            touched[s, r] = 0


@njit(nogil=True, cache=True)
def pack_deltas(params, bases, rows, out):  # pragma: no cover - compiled
    """out[i] = params[rows[i]] - bases[rows[i]]; params, bases (V, D), out (n, D)."""
    for i in range(rows.shape[0]):
        r = rows[i]
        for k in range(params.shape[1]):
            out[i, k] = params[r, k] - bases[r, k]


@njit(nogil=True, cache=True)
def apply_deltas(params, bases, rows, deltas, lo):  # pragma: no cover - compiled
    """params[r] = bases[r] = bases[r] + deltas[0] + deltas[1] + ..., in rank order.

    deltas: (W, N) float32, the ranks' packed deltas; this matrix's start at column lo.
    """
    D = params.shape[1]
    for i in range(rows.shape[0]):
        r = rows[i]
        at = lo + i * D
        for s in range(deltas.shape[0]):  # rank by rank, so the inner loop vectorises
            for k in range(D):
                bases[r, k] += deltas[s, at + k]
        for k in range(D):
            params[r, k] = bases[r, k]


@njit(nogil=True, cache=True)
def apply_capped(params, bases, rows, deltas, lo, touchers, cap):  # pragma: no cover
    """As ``apply_deltas``, but a row touched by n > cap ranks moves by sum x cap / n."""
    D = params.shape[1]
    acc = np.empty(D, np.float32)
    for i in range(rows.shape[0]):
        r = rows[i]
        at = lo + i * D
        acc[:] = 0.0
        for s in range(deltas.shape[0]):
            for k in range(D):
                acc[k] += deltas[s, at + k]
        n = touchers[r]
        scale = np.float32(1.0) if n <= cap else np.float32(cap / n)
        for k in range(D):
            bases[r, k] += acc[k] * scale
            params[r, k] = bases[r, k]
