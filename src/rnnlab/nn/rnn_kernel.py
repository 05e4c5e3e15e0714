"""A whole tanh/relu RNN or GRU layer over variable-length sequences, with hand-written BPTT.

The same idea as :mod:`rnnlab.nn.lstm_kernel` (read its docstring first): one autograd node,
sequences sorted longest first so that the running rows of every step are a contiguous
prefix, one GEMM for the input projection of all steps, per step one ``addmm`` and a
few in-place elementwise ops on preallocated buffers, and a backward pass in chunks of
steps with one GEMM per weight per chunk. Both take their plan (sorting, block
offsets, gather indices), chunking and sorted-gradient helpers from
:mod:`rnnlab.nn.lengths`.

The difference is where the per-step tensors live. The LSTM kernel keeps its gates in
*gate rows* (block t, m_t = n_{t-1} rows, padded); here every per-step tensor (input
projection, gates, saved activations, their gradients) lives in *state rows*: step t's
row j is the row of the state it produces, block t + 1 of the LSTM's layout, which holds
exactly n_t rows. So there is no padding at all, and the input projection of step t can
be written straight where step t's state goes::

    Hall:   [ h_{-1}: B rows | h_0: n_0 rows | h_1: n_1 rows | ... ]
    S rows:                  [ step 0        | step 1        | ... ]   (= Hall[B:])

For the RNN, ``Hall[B:]`` itself starts as ``X W_ih^T + b`` and each step adds
``h_prev W_hh^T`` and applies the activation in place: no other buffer of the sequence's
size exists. For the GRU, one (N, 4H) buffer G holds, per state row, the blocks
(hn, r, z, n): ``hn = h W_hn^T + b_hn`` and the three gates after their nonlinearities.
The step's GEMM adds ``h W_hh^T`` (rows taken in the order n, r, z) to the first three
blocks at once, and the backward pass reads them from there; its gradient buffer dA has
the same blocks, so W_hh sees dA[:, :3H] and W_ih sees dA[:, H:] (PyTorch's r, z, n).

GRU equations (PyTorch's, gate order r, z, n)::

    r = sigmoid(x W_ir^T + b_ir + h W_hr^T + b_hr)
    z = sigmoid(x W_iz^T + b_iz + h W_hz^T + b_hz)
    n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn))
    h' = (1 - z) * n + z * h
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from rnnlab.errors import ShapeError, choice_error
from rnnlab.nn.lengths import LengthPlan, backward_chunks, plan_lengths, sorted_grad

MODES = ("tanh", "relu", "gru")
# PyTorch's GRU blocks (r, z, n) -> (n, r, z), the order of W_hh's rows inside; and back.
_NRZ = (2, 0, 1)
_RZN = (1, 2, 0)


def _reorder(w: Tensor, order: tuple[int, ...]) -> Tensor:
    return w.unflatten(0, (3, -1))[list(order)].flatten(0, 1)


def _prev_rows(plan: LengthPlan) -> Tensor | None:
    """(N,) row of Hall holding the previous state of each state row (None: row - B)."""
    if plan.perm is None:
        return None
    off = torch.tensor(plan.offsets)
    n = torch.tensor(plan.n)
    m = off[1:plan.steps + 1] - off[:plan.steps]  # (steps,) block sizes; block t+1 has n_t
    # Row j of block t + 1 follows row j of block t: back by the size of block t.
    prev = torch.arange(plan.B, plan.state_rows) - torch.repeat_interleave(m, n)
    return prev.to(plan.perm.device)


class _RNNSequence(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, h0, plan, weight_ih, weight_hh, bias_ih, bias_hh, mode):
        T, B, F = x.shape
        H = h0.shape[1]
        off, n = plan.offsets, plan.n
        Rh = plan.state_rows
        flat_x = x.reshape(T * B, F)
        # x of each state row, in state-row order (N, F)
        X = flat_x if plan.perm is None else flat_x.index_select(0, plan.out_index)

        # One spare zero row past the states: every padded output is a copy of it.
        buf = x.new_empty(Rh + 1, H)
        Hall = buf[:Rh]
        if plan.perm is None:
            Hall[:B].copy_(h0)
        else:
            torch.index_select(h0, 0, plan.perm, out=Hall[:B])
        w_hh_t = weight_hh.t()  # (H, G*H)

        if mode == "gru":
            # G: (N, 4H) in the order (hn, r, z, n). The input GEMM fills r, z, n (and b_hn
            # into hn through a zero block of weights); each step's one GEMM adds h W_hh^T
            # to (hn, r, z), which then sit side by side.
            w_ih = torch.cat([weight_ih.new_zeros(H, F), weight_ih])  # (4H, F)
            b_rz = bias_ih[:2 * H] + bias_hh[:2 * H]
            bias = torch.cat([bias_hh[2 * H:], b_rz, bias_ih[2 * H:]])  # (4H,)
            G = torch.addmm(bias, X, w_ih.t())
            w_hh_t = _reorder(weight_hh, _NRZ).t()  # (H, 3H) in the order n, r, z
            for t in range(plan.steps):
                k = n[t]
                h_prev = Hall[off[t]:off[t] + k]
                g = G[off[t + 1] - B:off[t + 1] - B + k]
                g[:, :3 * H].addmm_(h_prev, w_hh_t)
                r, z = g[:, H:2 * H].sigmoid_(), g[:, 2 * H:3 * H].sigmoid_()
                new = g[:, 3 * H:].addcmul_(r, g[:, :H]).tanh_()
                torch.lerp(new, h_prev, z, out=Hall[off[t + 1]:off[t + 1] + k])
        else:
            G = None
            torch.addmm(bias_ih + bias_hh, X, weight_ih.t(), out=Hall[B:])
            act = torch.Tensor.tanh_ if mode == "tanh" else torch.Tensor.relu_
            for t in range(plan.steps):
                k = n[t]
                h = Hall[off[t + 1]:off[t + 1] + k]
                act(h.addmm_(Hall[off[t]:off[t] + k], w_hh_t))

        if plan.perm is None:
            outputs = Hall[B:].view(T, B, H)
            h_n = Hall[Rh - B:].clone()
        else:
            # One gather writes every output row once (zeros, then a scatter, would write
            # the padding twice over fresh memory).
            buf[Rh].zero_()
            source = torch.full((T * B,), Rh, dtype=torch.int64, device=x.device)
            source[plan.out_index] = torch.arange(B, Rh, device=x.device)
            outputs = buf.index_select(0, source).view(T, B, H)
            h_n = Hall.index_select(0, plan.last_row)

        ctx.plan, ctx.mode, ctx.sizes = plan, mode, (T, B, F, H)
        ctx.save_for_backward(X, weight_ih, weight_hh, Hall, G)
        ctx.set_materialize_grads(False)
        return outputs, h_n

    @staticmethod
    @once_differentiable
    def backward(ctx, d_outputs, d_hn):
        X, weight_ih, weight_hh, Hall, G = ctx.saved_tensors
        plan, mode = ctx.plan, ctx.mode
        T, B, F, H = ctx.sizes
        off, n = plan.offsets, plan.n
        gru = mode == "gru"
        x_flat = None
        if ctx.needs_input_grad[0]:
            x_flat = X.new_empty(T * B, F) if plan.perm is None else X.new_zeros(T * B, F)
        prev = _prev_rows(plan)

        # dA: the gradient of each state row's pre-activations. RNN: (rows, H). GRU:
        # (rows, 4H) in G's order (hn, r, z, n): W_hh sees the first three blocks (its rows
        # taken in the order n, r, z) and W_ih the last three (in PyTorch's order r, z, n).
        # K holds the coefficients that turn dh into dA, computed for a chunk at once.
        width = 4 * H if gru else H
        w_hh = _reorder(weight_hh, _NRZ) if gru else weight_hh
        dw_ih, dw_hh = torch.zeros_like(weight_ih), torch.zeros_like(w_hh)
        db_ih, db_hh = X.new_zeros(weight_ih.shape[0]), X.new_zeros(w_hh.shape[0])
        # At step t row j of dh_run holds d h_t; rows past n_t still hold d h_n of the
        # sequences that have not started yet, walking backwards (see lstm_kernel).
        dh_run = sorted_grad(d_hn, plan, B, H, Hall)
        # The chunk's output gradients are sliced or gathered in one op, not per step.
        bulk = d_outputs is not None and d_outputs.is_contiguous()
        d_out_flat = d_outputs.view(T * B, H) if bulk else None
        gather = bulk and plan.perm is not None

        # Chunks of steps by state rows: block t + 1 holds step t's rows.
        chunks = backward_chunks(off[1:], plan.steps)
        rows = max(off[t1 + 1] - off[t0 + 1] for t0, t1 in chunks)
        dA_buf = X.new_empty(rows, width)
        K_buf = X.new_empty(rows, width)
        Hp_buf = X.new_empty(rows, H) if prev is not None else None
        dO_buf = X.new_empty(rows, H) if gather else None
        for t0, t1 in chunks:
            sa, sz = off[t0 + 1] - B, off[t1 + 1] - B  # this chunk's state rows
            dA, K = dA_buf[:sz - sa], K_buf[:sz - sa]
            if prev is None:
                h_prev = Hall[sa:sz]
            else:
                h_prev = torch.index_select(Hall, 0, prev[sa:sz], out=Hp_buf[:sz - sa])
            dO = None
            if gather:
                dO = torch.index_select(d_out_flat, 0, plan.out_index[sa:sz],
                                        out=dO_buf[:sz - sa])
            elif bulk:
                dO = d_out_flat[sa:sz]
            h = Hall[B + sa:B + sz]
            if gru:
                _gru_coefficients(K, G[sa:sz], h_prev, H)
                z = G[sa:sz, 2 * H:3 * H]
            elif mode == "tanh":
                torch.mul(h, h, out=K).neg_().add_(1)  # 1 - h^2
            else:
                torch.sign(h, out=K)  # relu': 1 where h > 0; h >= 0
            if not gru and dO is not None:
                torch.mul(dO, K, out=dA)  # each step adds its dh K

            for t in reversed(range(t0, t1)):
                k = n[t]
                i = off[t + 1] - B - sa
                q = slice(i, i + k)
                dh = dh_run[:k]
                if not gru and dO is not None:
                    torch.mm(dA[q].addcmul_(dh, K[q]), w_hh, out=dh)
                    continue
                if dO is not None:
                    dh.add_(dO[q])
                elif d_outputs is not None:
                    d_out = d_outputs[t]  # (B, H) in input order
                    dh.add_(d_out if plan.perm is None else d_out.index_select(0, plan.perm[:k]))
                if gru:
                    torch.mul(K[q].view(k, 4, H), dh[:, None], out=dA[q].view(k, 4, H))
                    dh.mul_(z[q]).addmm_(dA[q, :3 * H], w_hh)  # z dh + d(hn, r, z) W_hh
                else:
                    torch.mm(torch.mul(dh, K[q], out=dA[q]), w_hh, out=dh)

            d_ih = dA[:, H:] if gru else dA
            d_hh = dA[:, :3 * H] if gru else dA
            dw_hh.addmm_(d_hh.t(), h_prev)
            db_hh.add_(d_hh.sum(0))
            dw_ih.addmm_(d_ih.t(), X[sa:sz])
            db_ih.add_(d_ih.sum(0))
            if x_flat is not None:
                if plan.perm is None:
                    torch.mm(d_ih, weight_ih, out=x_flat[sa:sz])
                else:
                    x_flat.index_copy_(0, plan.out_index[sa:sz], d_ih @ weight_ih)

        dx = None if x_flat is None else x_flat.view(T, B, F)
        dh0 = dh_run if plan.perm is None else dh_run.index_select(0, plan.inverse)
        if gru:
            dw_hh, db_hh = _reorder(dw_hh, _RZN), _reorder(db_hh, _RZN)
        return dx, dh0, None, dw_ih, dw_hh, db_ih, db_hh, None


def _gru_coefficients(K: Tensor, G: Tensor, h_prev: Tensor, H: int) -> None:
    """Fill K (rows, 4H) with d(hn, r, z, n pre-activations) / dh', G's block order.

    With r, z, n the activated gates and hn = h W_hn^T + b_hn (all in G)::

        K_n = (1 - n^2)(1 - z)      K_r = K_n hn r (1 - r)
        K_z = (h - n) z (1 - z)     K_hn = K_n r
    """
    hn, r, z, new = (G[:, j * H:(j + 1) * H] for j in range(4))
    K_hn, K_r, K_z, K_n = (K[:, j * H:(j + 1) * H] for j in range(4))
    torch.mul(new, new, out=K_n).neg_().add_(1)
    K_n.addcmul_(K_n, z, value=-1)
    torch.addcmul(r, r, r, value=-1, out=K_r).mul_(hn).mul_(K_n)
    torch.addcmul(z, z, z, value=-1, out=K_hn)  # z (1 - z), until K_z has it
    torch.sub(h_prev, new, out=K_z).mul_(K_hn)
    torch.mul(K_n, r, out=K_hn)


def rnn_sequence(
    x: Tensor,
    h0: Tensor,
    lengths: Tensor | None,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor,
    bias_hh: Tensor,
    mode: str,
) -> tuple[Tensor, Tensor]:
    """Run one tanh/relu RNN or GRU layer (rnnlab.nn.cells' equations) over whole sequences.

    Args:
        x: (T, B, F) time-major inputs.
        h0: (B, H) initial state.
        lengths: (B,) int64 lengths in [0, T] (already validated), or None for all T.
        weight_ih: (G*H, F); weight_hh: (G*H, H); bias_ih, bias_hh: (G*H,); G = 1 for
            "tanh"/"relu", 3 for "gru" (gate order r, z, n as PyTorch's).
        mode: "tanh", "relu" (:class:`rnnlab.nn.cells.BasicRNNCell`) or "gru"
            (:class:`rnnlab.nn.cells.GRUCell`).

    Returns:
        ``(outputs, h_n)``: outputs (T, B, H), zero past each length; h_n (B, H) the state
        at each sequence's last valid step (h0 for length 0).

    Example:
        >>> cell = rnnlab.GRUCell(3, 5)
        >>> out, h = rnn_sequence(torch.zeros(7, 2, 3), torch.zeros(2, 5),
        ...                       torch.tensor([7, 4]), cell.weight_ih, cell.weight_hh,
        ...                       cell.bias_ih, cell.bias_hh, "gru")
        >>> out.shape
        torch.Size([7, 2, 5])
    """
    if mode not in MODES:
        raise choice_error("mode", mode, MODES)
    if x.dim() != 3:
        raise ShapeError(f"rnn_sequence expects x of shape (T, B, F); got {tuple(x.shape)}")
    T, B, F = x.shape
    H = weight_hh.shape[1]
    gates = 3 if mode == "gru" else 1
    if tuple(h0.shape) != (B, H):
        raise ShapeError(f"rnn_sequence expects h0 {(B, H)}; got {tuple(h0.shape)}")
    if tuple(weight_ih.shape) != (gates * H, F) or tuple(weight_hh.shape) != (gates * H, H):
        raise ShapeError(f"rnn_sequence mode={mode!r} expects weight_ih {(gates * H, F)} and "
                         f"weight_hh {(gates * H, H)}; got {tuple(weight_ih.shape)} and "
                         f"{tuple(weight_hh.shape)}")
    plan = plan_lengths(T, B, lengths, x.device)
    if plan.steps == 0:  # nothing runs: zero outputs, the initial state
        return x.new_zeros(T, B, H), h0.clone()
    return _RNNSequence.apply(x, h0, plan, weight_ih, weight_hh, bias_ih, bias_hh, mode)
