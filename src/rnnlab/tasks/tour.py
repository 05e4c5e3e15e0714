"""The notebook's first half, replayed with rnnlab: manual RNN, static and dynamic unrolling.

``rnnlab tour`` prints what :func:`run_tour` returns. Every step uses the notebook's 4x3
mini-batch (four instances, two time steps, three features) and a 5-unit tanh RNN, and
the last step checks that all the ways of unrolling agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from rnnlab.cells import BasicRNNCell
from rnnlab.rnn import dynamic_rnn, static_rnn

# The notebook's mini-batch: instance 1's second step is the zero vector, which the
# "sequence length" step then treats as padding.
X0_BATCH = [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 0, 1]]  # t = 0
X1_BATCH = [[9, 8, 7], [0, 0, 0], [6, 5, 4], [3, 2, 1]]  # t = 1
SEQ_LENGTH = [2, 1, 2, 2]


@dataclass(frozen=True)
class TourStep:
    """One printed step of the tour: a title and its text."""

    title: str
    text: str


def _fmt(t: torch.Tensor) -> str:
    return f"shape {tuple(t.shape)}\n{t.detach().numpy().round(6)}"


@torch.no_grad()
def run_tour(seed: int = 42) -> list[TourStep]:
    """Replay the notebook's walkthrough; the same seed gives the same numbers.

    Args:
        seed: seeds the weights of every RNN in the tour.

    Returns:
        The steps, in order, each with a title and the text to print.

    Example:
        >>> steps = run_tour(seed=42)
        >>> steps[-1].title
        'All ways agree'
    """
    steps = []
    gen = torch.Generator().manual_seed(seed)
    x0 = torch.tensor(X0_BATCH, dtype=torch.float32)
    x1 = torch.tensor(X1_BATCH, dtype=torch.float32)

    # 1. The manual RNN: two steps written out with explicit weight matrices.
    Wx = torch.randn(3, 5, generator=gen)
    Wy = torch.randn(5, 5, generator=gen)
    b = torch.zeros(1, 5)
    y0 = torch.tanh(x0 @ Wx + b)
    y1 = torch.tanh(y0 @ Wy + x1 @ Wx + b)
    steps.append(TourStep("Manual RNN", "Y0 = tanh(X0 Wx + b), Y1 = tanh(Y0 Wy + X1 Wx + b)\n"
                          f"Output at t=0: {_fmt(y0)}\nOutput at t=1: {_fmt(y1)}"))

    # 2. Static unrolling: a list of per-step inputs, one graph node per step.
    torch.manual_seed(seed)
    cell = BasicRNNCell(3, 5)
    (s0, s1), s_state = static_rnn(cell, [x0, x1])
    steps.append(TourStep("Static unrolling", "static_rnn(cell, [X0, X1])\n"
                          f"Output at t=0: {_fmt(s0)}\nOutput at t=1: {_fmt(s1)}\n"
                          f"Final state (the last output): {_fmt(s_state)}"))

    # 3. The same on a (B, T, F) tensor, unstacked into steps and stacked back.
    x = torch.stack([x0, x1], dim=1)  # (4, 2, 3)
    outs, _ = static_rnn(cell, list(x.unbind(1)))
    stacked = torch.stack(outs, dim=1)  # (4, 2, 5)
    steps.append(TourStep("Static unrolling of a (B, T, F) batch",
                          "outputs = stack(static_rnn(cell, unstack(X, axis=1)), axis=1)\n"
                          + _fmt(stacked)))

    # 4. Dynamic unrolling: one call on the whole tensor.
    dyn, _ = dynamic_rnn(cell, x)
    steps.append(TourStep("Dynamic unrolling", "dynamic_rnn(cell, X)\n" + _fmt(dyn)))

    # 5. Sequence lengths: instance 1 has one step; its second step is padding.
    lengths = torch.tensor(SEQ_LENGTH)
    dyn_len, state_len = dynamic_rnn(cell, x, sequence_length=lengths)
    steps.append(TourStep("Setting the sequence length",
                          f"dynamic_rnn(cell, X, sequence_length={SEQ_LENGTH})\n"
                          f"outputs (instance 1, t=1 is zero): {_fmt(dyn_len)}\n"
                          f"final states (instance 1: its t=0 output): {_fmt(state_len)}"))

    # 6. Every way of unrolling computes the same function.
    loop, loop_state = dynamic_rnn(cell, x, sequence_length=lengths, backend="loop")
    static_len, static_state = static_rnn(cell, [x0, x1], sequence_length=lengths)
    state, manual = cell.zero_state(4), []
    for t in range(2):
        out, new = cell(x[:, t], state)
        valid = (t < lengths)[:, None]
        manual.append(out * valid)
        state = torch.where(valid, new, state)
    diffs = {
        "static vs dynamic (no lengths)": (stacked - dyn).abs().max(),
        "static vs dynamic (lengths)": (torch.stack(static_len, 1) - dyn_len).abs().max(),
        "fused vs loop backend": (dyn_len - loop).abs().max(),
        "manual steps vs dynamic": (torch.stack(manual, 1) - dyn_len).abs().max(),
        "final states": max((static_state - state_len).abs().max(),
                            (loop_state - state_len).abs().max(),
                            (state - state_len).abs().max()),
    }
    text = "\n".join(f"max |difference|, {k}: {float(v):.3g}" for k, v in diffs.items())
    steps.append(TourStep("All ways agree", text))
    return steps


def max_difference(steps: list[TourStep]) -> float:
    """The largest difference reported by the tour's last step (0 when all agree)."""
    return max(float(line.rsplit(":", 1)[1]) for line in steps[-1].text.splitlines())
