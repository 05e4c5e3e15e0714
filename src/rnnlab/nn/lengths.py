"""Length planning shared by rnnlab's sequence kernels (:mod:`rnnlab.nn.lstm_kernel`,
:mod:`rnnlab.nn.rnn_kernel`).

Both kernels sort the batch by length, longest first, once per call, so that at step t
only the first n_t sequences run and every per-step slice of a buffer is contiguous: no
masks and no padding work. The plan says where each (step, sequence) lives in the
kernels' *block layout*: block k holds m_k rows, m_0 = B (the initial states) and
m_{k+1} = n_k (the states after step k)::

    sorted lengths 5 4 3 2
    step t                     0 1 2 3 4
    n_t (sequences running)    4 4 3 2 1
    block k                  0 1 2 3 4 5
    m_k (rows of block k)    4 4 4 3 2 1
    offsets (first row)      0 4 8 12 15 17, and 18 rows in all

The backward passes walk the steps in reverse in chunks of about :data:`CHUNK_ROWS` rows
(:func:`backward_chunks`), so that their gradient buffers stay chunk-sized and are reused.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

# Rows of gates per backward chunk: big enough for efficient GEMMs, small enough that the
# chunk's buffers stay warm in cache and are reused rather than freshly paged in. Read at
# call time, so tests may shrink it to exercise many chunks.
CHUNK_ROWS = 512


@dataclass(frozen=True)
class LengthPlan:
    """Where each (step, sequence) lives in the block layout; built once per call."""

    T: int  # time steps of the input
    B: int
    steps: int  # T' = the longest length; steps past it do nothing
    n: list[int]  # n_t: sequences still running at step t, t < steps
    offsets: list[int]  # start row of block k, k = 0..steps (and the total at the end)
    perm: Tensor | None  # (B,) sorted position -> sequence; None: identity, all lengths T
    inverse: Tensor | None  # (B,) sequence -> sorted position
    x_index: Tensor | None  # (R_g,) row of x.view(T*B, F) feeding each gate row
    out_index: Tensor | None  # (N,) row of outputs.view(T*B, P) of each state row past block 0
    last_row: Tensor | None  # (B,) row of each sequence's final state, input order

    @property
    def gate_rows(self) -> int:
        """Rows of blocks 0..steps-1: the rows a step's gates live in (LSTM layout)."""
        return self.offsets[self.steps]

    @property
    def state_rows(self) -> int:
        """Rows of all blocks: the initial states and every step's new states."""
        return self.offsets[self.steps + 1]


def plan_lengths(T: int, B: int, lengths: Tensor | None, device) -> LengthPlan:
    """Sort a batch by length and lay out its blocks.

    Args:
        T: time steps of the input.
        B: batch size.
        lengths: (B,) int64 lengths in [0, T] (already validated), or None for all T.
        device: where the plan's index tensors go (the inputs' device).

    Returns:
        The plan; its index tensors are None when every length is T (no sorting needed).
    """
    if lengths is None or (T > 0 and bool((lengths == T).all())):
        offsets = [k * B for k in range(T + 2)]
        return LengthPlan(T, B, T, [B] * T, offsets, None, None, None, None, None)
    lens = lengths.to("cpu", torch.int64)
    perm = torch.sort(lens, descending=True, stable=True).indices  # (B,)
    inverse = torch.empty_like(perm)
    inverse[perm] = torch.arange(B)
    steps = int(lens.max()) if B else 0
    n = (lens[None, :] > torch.arange(steps)[:, None]).sum(1)  # (steps,)
    m = torch.cat([torch.tensor([B]), n])  # (steps + 1,) block sizes
    offsets = torch.cat([torch.zeros(1, dtype=torch.int64), m.cumsum(0)])  # (steps + 2,)

    t = torch.arange(steps)
    gate_t = torch.repeat_interleave(t, m[:steps])  # block (= step) of each gate row
    gate_j = torch.arange(int(offsets[steps])) - offsets[gate_t]  # sorted position
    x_index = gate_t * B + perm[gate_j]
    out_t = torch.repeat_interleave(t, n)  # step of each state row past block 0
    out_j = torch.arange(int(n.sum())) - (offsets[out_t + 1] - B)
    out_index = out_t * B + perm[out_j]
    last_row = offsets[lens] + inverse  # block len(b) holds the state after step len(b)-1

    def dev(v: Tensor) -> Tensor:
        return v.to(device)

    return LengthPlan(T, B, steps, n.tolist(), offsets.tolist(), dev(perm), dev(inverse),
                      dev(x_index), dev(out_index), dev(last_row))


def backward_chunks(off: list[int], steps: int) -> list[tuple[int, int]]:
    """Split steps into runs [t0, t1) of about CHUNK_ROWS rows, last run first.

    Args:
        off: start row of each step's block (step t spans ``off[t]:off[t + 1]``).
        steps: the number of steps.

    Returns:
        ``[(t0, t1), ...]`` covering ``range(steps)`` from the end; a run always holds at
        least one step, however large.
    """
    chunks, t1 = [], steps
    while t1 > 0:
        t0 = t1 - 1
        while t0 > 0 and off[t1] - off[t0 - 1] <= CHUNK_ROWS:
            t0 -= 1
        chunks.append((t0, t1))
        t1 = t0
    return chunks


def sorted_grad(d_state: Tensor | None, plan: LengthPlan, B: int, size: int,
                like: Tensor) -> Tensor:
    """A final state's gradient (B, size), copied into sorted order (zeros when None)."""
    if d_state is None:
        return like.new_zeros(B, size)
    if plan.perm is None:
        return d_state.clone()
    return d_state.index_select(0, plan.perm)
