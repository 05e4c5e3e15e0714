"""A whole LSTM layer over a batch of variable-length sequences, with hand-written BPTT.

PyTorch's fused CPU LSTM (oneDNN) pays ~1-3 ms per call, so running it once per distinct
length is slow, packed sequences are slower still, and a Python loop over ``LSTMCell``
records ~15 autograd nodes per step. This kernel runs the cell family of
:class:`rnnlab.nn.cells.LSTMCell` (peepholes, ``cell_clip``, ``num_proj``, ``proj_clip``)
as one autograd node: one GEMM for the input projection of all steps, then per step one
``addmm`` and a few in-place elementwise ops on preallocated buffers. The backward pass
walks the steps in reverse, in chunks of about ``CHUNK_ROWS`` rows: per chunk a few bulk
ops turn the saved activations into the gates' local derivatives, then ~5 ops per step
carry dh and dc back, then one GEMM per weight adds the chunk's share.

Sequences are sorted longest first (the plan of :mod:`rnnlab.nn.lengths`), so at step t
only the first n_t rows are active and every per-step slice is contiguous (no masks, no
cat). All buffers share one *block layout*: block k holds m_k rows, m_0 = B and
m_{k+1} = n_k::

    block:   0 (initial)   1 (after step 0)   2 (after step 1)  ...
    rows:    B             n_0                n_1
    states   h_{-1}, c_{-1}   h_0, c_0           h_1, c_1          (Hall, Call)
    step t:  gates, tanh(c_t) of step t live in block t (its first n_t rows;
             the other m_t - n_t rows are padding whose gradient stays zero)

so step t reads its previous state from the same rows its gates live in, and the weight
gradients of any run of steps are single GEMMs: dW_hh += dG^T Hall[a:z], dW_ih += dG^T X[a:z].

Memory matters as much as arithmetic: on the machines measured, first touching a fresh
page costs about 0.5 ms per MB, as much as the work done on it, so the backward pass
keeps its gradient buffers chunk-sized and reuses them.

Inside, the gates are stored in the order (g, i, f, o) rather than PyTorch's (i, f, g, o):
then the three sigmoid gates are contiguous in the forward pass and the three gates
scaled by dc are contiguous in the backward pass.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from rnnlab.errors import ShapeError
from rnnlab.nn.lengths import LengthPlan, backward_chunks, plan_lengths, sorted_grad

# PyTorch gate order (i, f, g, o) -> internal (g, i, f, o), and back.
_TO_INTERNAL = (2, 0, 1, 3)
_TO_TORCH = (1, 2, 0, 3)


def _to_internal(w: Tensor) -> Tensor:
    """Reorder the 4 gate blocks of the first axis from (i, f, g, o) to (g, i, f, o)."""
    return w.unflatten(0, (4, -1))[list(_TO_INTERNAL)].flatten(0, 1)


def _to_torch(w: Tensor) -> Tensor:
    return w.unflatten(0, (4, -1))[list(_TO_TORCH)].flatten(0, 1)


class _LSTMSequence(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, h0, c0, plan, weight_ih, weight_hh, bias_ih, bias_hh, weight_hr,
                weight_ci, weight_cf, weight_co, cell_clip, proj_clip):
        T, B, F = x.shape
        H, P = c0.shape[1], h0.shape[1]
        peep = weight_ci is not None
        proj = weight_hr is not None
        off, n = plan.offsets, plan.n
        Rg, Rh = plan.gate_rows, plan.state_rows
        new = x.new_empty

        w_ih = _to_internal(weight_ih)  # (4H, F)
        w_hh_t = _to_internal(weight_hh).t()  # (P, 4H)
        bias = _to_internal(bias_ih + bias_hh)  # (4H,)
        flat_x = x.reshape(T * B, F)
        X = flat_x[:Rg] if plan.perm is None else flat_x.index_select(0, plan.x_index)  # (Rg, F)
        G = torch.addmm(bias, X, w_ih.t())  # (Rg, 4H) input part of every step's gates

        Hall = new(Rh, P)  # states h in block layout
        Call = new(Rh, H)
        TC = new(Rg, H)  # tanh(c_t) of step t in block t
        Craw = new(Rg, H) if cell_clip is not None else None  # c_t before clipping
        M = new(Rh - B, H) if proj else None  # o * tanh(c), before the projection
        Hraw = new(Rh - B, P) if proj_clip is not None else None
        if plan.perm is None:
            Hall[:B].copy_(h0)
            Call[:B].copy_(c0)
        else:
            torch.index_select(h0, 0, plan.perm, out=Hall[:B])
            torch.index_select(c0, 0, plan.perm, out=Call[:B])
        w_cif = torch.stack([weight_ci, weight_cf]) if peep else None  # (2, H)

        for t in range(plan.steps):
            k = n[t]
            p = slice(off[t], off[t] + k)  # step t's gates; also its previous state
            r = slice(off[t + 1], off[t + 1] + k)  # step t's new state
            gates = G[p]
            gates.addmm_(Hall[p], w_hh_t)
            g, i, f, o = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
            g.tanh_()
            c_prev = Call[p]
            if peep:
                gates[:, H:3 * H].unflatten(1, (2, H)).addcmul_(c_prev[:, None], w_cif)
                gates[:, H:3 * H].sigmoid_()
            else:
                gates[:, H:].sigmoid_()
            c = Call[r] if Craw is None else Craw[p]
            torch.mul(f, c_prev, out=c)
            c.addcmul_(i, g)
            if Craw is not None:
                torch.clamp(c, -cell_clip, cell_clip, out=Call[r])
                c = Call[r]
            if peep:
                o.addcmul_(c, weight_co)
                o.sigmoid_()
            tc = torch.tanh(c, out=TC[p])
            if not proj:
                torch.mul(o, tc, out=Hall[r])
                continue
            rp = slice(r.start - B, r.stop - B)
            torch.mul(o, tc, out=M[rp])
            if Hraw is None:
                torch.mm(M[rp], weight_hr.t(), out=Hall[r])
            else:
                torch.mm(M[rp], weight_hr.t(), out=Hraw[rp])
                torch.clamp(Hraw[rp], -proj_clip, proj_clip, out=Hall[r])

        if plan.perm is None:
            outputs = Hall[B:].view(T, B, P)
            h_n, c_n = Hall[Rh - B:].clone(), Call[Rh - B:].clone()
        else:
            outputs = x.new_zeros(T * B, P)
            outputs.index_copy_(0, plan.out_index, Hall[B:])
            outputs = outputs.view(T, B, P)
            h_n = Hall.index_select(0, plan.last_row)
            c_n = Call.index_select(0, plan.last_row)

        ctx.plan, ctx.cell_clip, ctx.proj_clip = plan, cell_clip, proj_clip
        ctx.peep, ctx.proj, ctx.sizes = peep, proj, (T, B, F, H, P)
        ctx.save_for_backward(X, w_ih, weight_hh, weight_hr, weight_co, w_cif,
                              G, Hall, Call, TC, Craw, M, Hraw)
        ctx.set_materialize_grads(False)
        return outputs, h_n, c_n

    @staticmethod
    @once_differentiable
    def backward(ctx, d_outputs, d_hn, d_cn):
        (X, w_ih, weight_hh, weight_hr, weight_co, w_cif,
         G, Hall, Call, TC, Craw, M, Hraw) = ctx.saved_tensors
        plan, peep, proj = ctx.plan, ctx.peep, ctx.proj
        T, B, F, H, P = ctx.sizes
        off, n = plan.offsets, plan.n
        w_hh = _to_internal(weight_hh)  # (4H, P)
        need = ctx.needs_input_grad
        dx = x_flat = None
        if need[0]:
            x_flat = X.new_empty(T * B, F) if plan.perm is None else X.new_zeros(T * B, F)
            dx = x_flat.view(T, B, F)
        dw_ih = w_ih.new_zeros(4 * H, F)
        dw_hh = w_hh.new_zeros(4 * H, P)
        db = w_hh.new_zeros(4 * H)
        dw_hr = weight_hr.new_zeros(P, H) if proj else None
        dw_cif = w_cif.new_zeros(2, H) if peep else None
        dw_co = weight_co.new_zeros(H) if peep else None

        # The gradients of h and c only flow to the previous step: one running (B, P) and
        # (B, H) buffer each, in sorted order. At step t row j holds d h_t (d c_t); rows
        # past n_{t+1} still hold d h_n (d c_n) of the sequences that end at step t.
        dh_run = sorted_grad(d_hn, plan, B, P, Hall)
        dc_run = sorted_grad(d_cn, plan, B, H, Call)

        # Steps run backwards in chunks of about CHUNK_ROWS rows; the gates' gradients of
        # one chunk live in buffers reused by the next, and each weight gradient grows by
        # one GEMM per chunk. Buffers the size of the whole sequence would cost as much
        # in fresh memory pages as the arithmetic does.
        chunks = backward_chunks(off, plan.steps)
        rows = max(off[t1] - off[t0] for t0, t1 in chunks)
        dG_buf = G.new_empty(rows, 4 * H)
        K_c_buf = G.new_empty(rows, H)
        K_p_buf = G.new_empty(rows, H) if peep or Craw is not None else None
        dHp_buf = G.new_empty(max(off[t1 + 1] - off[t0 + 1] for t0, t1 in chunks), P)
        for t0, t1 in chunks:
            a, z = off[t0], off[t1]  # this chunk's gate rows
            sa = off[t0 + 1]  # its first state row
            # dG starts as the coefficients that turn dm (into o) and dc (into g, i, f)
            # into the gates' gradients, computed for the chunk at once and in place.
            g, i, f, o = (G[a:z, j * H:(j + 1) * H] for j in range(4))
            tc, c_prev = TC[a:z], Call[a:z]
            dG = dG_buf[:z - a]
            dg, di, df, do = (dG[:, j * H:(j + 1) * H] for j in range(4))
            m = _next_state(M if proj else Hall[B:], plan, a, z)  # o tanh(c_t)
            torch.addcmul(m, m, o, value=-1, out=do)  # o (1 - o) tanh(c)
            K_c = torch.addcmul(o, m, tc, value=-1, out=K_c_buf[:z - a])  # o (1 - tanh(c)^2)
            if peep:
                K_c.addcmul_(do, weight_co)  # o's peephole reads c_t
            torch.mul(g, i, out=di)
            torch.addcmul(i, di, g, value=-1, out=dg)  # i (1 - g^2)
            di.addcmul_(di, i, value=-1)  # g i (1 - i)
            torch.mul(c_prev, f, out=df).addcmul_(df, f, value=-1)  # c_prev f (1 - f)
            K_p = f  # dc -> dc_prev
            if peep:
                K_p = torch.addcmul(f, di, w_cif[0], out=K_p_buf[:z - a])
                K_p.addcmul_(df, w_cif[1])
            if Craw is not None:  # clamp passes the gradient only where it did not clip
                keep = Craw[a:z].abs().le_(ctx.cell_clip)  # 0.0 and 1.0
                dG[:, :3 * H].unflatten(1, (3, H)).mul_(keep[:, None])
                K_p = torch.mul(K_p, keep, out=K_p_buf[:z - a])

            for t in reversed(range(t0, t1)):
                k = n[t]
                p = slice(off[t] - a, off[t] - a + k)
                if k < off[t + 1] - off[t]:  # padding rows of this block: no gradient
                    dG[off[t] - a + k:off[t + 1] - a].zero_()
                dm = dh_run[:k]
                if d_outputs is not None:
                    d_out = d_outputs[t]  # (B, P) in input order
                    dm.add_(d_out if plan.perm is None else d_out.index_select(0, plan.perm[:k]))
                if proj:
                    if Hraw is not None:
                        r = slice(off[t + 1] - B, off[t + 1] - B + k)
                        dm.mul_(Hraw[r].abs().le_(ctx.proj_clip))
                    dHp_buf[off[t + 1] - sa:off[t + 1] - sa + k] = dm
                    dm = dm @ weight_hr  # (k, H)
                d_gates = dG[p]
                d_gates[:, 3 * H:].mul_(dm)
                dc = dc_run[:k].addcmul_(dm, K_c[p])
                d_gates[:, :3 * H].unflatten(1, (3, H)).mul_(dc[:, None])
                dc.mul_(K_p[p])
                torch.mm(d_gates, w_hh, out=dh_run[:k])

            dw_hh.addmm_(dG.t(), Hall[a:z])
            dw_ih.addmm_(dG.t(), X[a:z])
            db.add_(dG.sum(0))
            if proj:
                sz = off[t1 + 1]
                dw_hr.addmm_(dHp_buf[:sz - sa].t(), M[sa - B:sz - B])
            if x_flat is not None:
                if plan.perm is None:
                    torch.mm(dG, w_ih, out=x_flat[a:z])
                else:
                    x_flat.index_copy_(0, plan.x_index[a:z], dG @ w_ih)
            if peep:
                dw_cif.add_((dG[:, H:3 * H].unflatten(1, (2, H)) * c_prev[:, None]).sum(0))
                dw_co.add_((do * _next_state(Call[B:], plan, a, z)).sum(0))

        dh0 = dh_run if plan.perm is None else dh_run.index_select(0, plan.inverse)
        dc0 = dc_run if plan.perm is None else dc_run.index_select(0, plan.inverse)
        dw_ih, dw_hh, db = _to_torch(dw_ih), _to_torch(dw_hh), _to_torch(db)
        dw_ci, dw_cf = dw_cif.unbind(0) if peep else (None, None)
        return (dx, dh0, dc0, None, dw_ih, dw_hh, db, db.clone(), dw_hr,
                dw_ci, dw_cf, dw_co, None, None)


def _next_state(after: Tensor, plan: LengthPlan, a: int, z: int) -> Tensor:
    """Rows of a state-layout buffer that follow gate rows a:z: the state each row's step made.

    ``after`` holds the state rows past block 0 (``Hall[B:]``, ``M``); gate row j of block
    t maps to row j of block t + 1. Padding rows map anywhere valid: their gradient is 0.
    """
    if plan.perm is None:
        return after[a:z]
    off = torch.tensor(plan.offsets)
    row = torch.arange(a, z)
    block = torch.searchsorted(off, row, right=True) - 1  # the step of each row
    size = off[block + 1] - off[block]
    index = (row + size - plan.B).clamp_(max=after.shape[0] - 1)
    return after.index_select(0, index.to(after.device))


def lstm_sequence(
    x: Tensor,
    h0: Tensor,
    c0: Tensor,
    lengths: Tensor | None,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor,
    bias_hh: Tensor,
    weight_hr: Tensor | None = None,
    weight_ci: Tensor | None = None,
    weight_cf: Tensor | None = None,
    weight_co: Tensor | None = None,
    cell_clip: float | None = None,
    proj_clip: float | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """Run one LSTM layer (:class:`rnnlab.nn.cells.LSTMCell`'s equations) over whole sequences.

    Args:
        x: (T, B, F) time-major inputs.
        h0: (B, P) initial output, P = num_proj or H.
        c0: (B, H) initial cell state.
        lengths: (B,) int64 lengths in [0, T] (already validated), or None for all T.
        weight_ih: (4H, F); weight_hh: (4H, P); bias_ih, bias_hh: (4H,), gate order i, f, g, o.
        weight_hr: (P, H) projection, or None.
        weight_ci, weight_cf, weight_co: (H,) peepholes (all three or none).
        cell_clip: clip c to [-cell_clip, cell_clip] after each update, or None.
        proj_clip: clip the projected h likewise (needs weight_hr), or None.

    Returns:
        ``(outputs, h_n, c_n)``: outputs (T, B, P), zero past each length; h_n (B, P) and
        c_n (B, H) at each sequence's last valid step (the initial state for length 0).

    Example:
        >>> cell = rnnlab.LSTMCell(3, 5, use_peepholes=True)
        >>> out, h, c = lstm_sequence(torch.zeros(7, 2, 3), torch.zeros(2, 5),
        ...                           torch.zeros(2, 5), torch.tensor([7, 4]),
        ...                           cell.weight_ih, cell.weight_hh, cell.bias_ih,
        ...                           cell.bias_hh, weight_ci=cell.weight_ci,
        ...                           weight_cf=cell.weight_cf, weight_co=cell.weight_co)
        >>> out.shape
        torch.Size([7, 2, 5])
    """
    if x.dim() != 3:
        raise ShapeError(f"lstm_sequence expects x of shape (T, B, F); got {tuple(x.shape)}")
    T, B, _ = x.shape
    H = weight_hh.shape[0] // 4
    P = weight_hr.shape[0] if weight_hr is not None else H
    if tuple(h0.shape) != (B, P) or tuple(c0.shape) != (B, H):
        raise ShapeError(f"lstm_sequence expects h0 {(B, P)} and c0 {(B, H)}; got "
                         f"{tuple(h0.shape)} and {tuple(c0.shape)}")
    peepholes = (weight_ci, weight_cf, weight_co)
    assert all(w is None for w in peepholes) or all(w is not None for w in peepholes)
    assert proj_clip is None or weight_hr is not None
    plan = plan_lengths(T, B, lengths, x.device)
    if plan.steps == 0:  # nothing runs: zero outputs, the initial state
        return x.new_zeros(T, B, P), h0.clone(), c0.clone()
    return _LSTMSequence.apply(x, h0, c0, plan, weight_ih, weight_hh, bias_ih, bias_hh,
                               weight_hr, weight_ci, weight_cf, weight_co, cell_clip, proj_clip)
