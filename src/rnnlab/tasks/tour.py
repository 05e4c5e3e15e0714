"""The notebook's first half, replayed with rnnlab: manual RNN, static and dynamic unrolling.

``rnnlab tour`` prints what :func:`run_tour` returns. Every step uses the notebook's 4x3
mini-batch (four instances, two time steps, three features) and a 5-unit tanh RNN, and
the last step checks that all the ways of unrolling agree: each comparison's largest
absolute difference must be at most ``tol`` (``TOLERANCE``, float32 rounding). Each way
is labelled with the backend :func:`dynamic_rnn` actually ran (``"fused"``, ``"kernel"``
or ``"loop"``, as :func:`rnnlab.nn.resolve_backend` reports it).

The result is a :class:`Tour`, a list of steps that also says whether the check passed::

    tour = run_tour(seed=42)
    for step in tour:
        print(f"== {step.title}\n{step.text}\n")
    exit_code = 0 if tour.passed else 1   # or tour.check(), which raises TrainingError
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from rnnlab.errors import ConfigError, TrainingError
from rnnlab.nn import BasicRNNCell, dynamic_rnn, resolve_backend, static_rnn

# The outputs are tanh values in [-1, 1] computed in float32 (eps 1.2e-7) along different
# orders of operations: a few eps apart at most.
TOLERANCE = 1e-6

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


class Tour(list):
    """The tour's steps (a list of :class:`TourStep`), and the verdict of its last step.

    Attributes:
        differences: comparison name -> its largest absolute difference.
        tol: the tolerance each difference was checked against.
    """

    def __init__(self, steps: list[TourStep], differences: dict[str, float], tol: float):
        super().__init__(steps)
        self.differences, self.tol = differences, tol

    @property
    def failures(self) -> dict[str, float]:
        """The comparisons whose difference exceeds the tolerance (NaN counts as one)."""
        return {k: v for k, v in self.differences.items() if not v <= self.tol}

    @property
    def passed(self) -> bool:
        """Whether every way of unrolling agreed to within ``tol``."""
        return not self.failures

    def check(self) -> None:
        """Raise ``TrainingError`` naming each comparison over the tolerance, if any."""
        if self.failures:
            worst = ", ".join(f"{k}: {v:.3g}" for k, v in self.failures.items())
            raise TrainingError(f"the ways of unrolling disagree by more than tol={self.tol:g}: "
                                f"{worst}")


def _fmt(t: torch.Tensor) -> str:
    return f"shape {tuple(t.shape)}\n{t.detach().numpy().round(6)}"


@torch.no_grad()
def run_tour(seed: int = 42, tol: float = TOLERANCE) -> Tour:
    """Replay the notebook's walkthrough; the same seed gives the same numbers.

    Args:
        seed: seeds the weights of every RNN in the tour.
        tol: the largest absolute difference allowed between two ways of unrolling.

    Returns:
        A :class:`Tour`: the steps, in order, each with a title and the text to print; its
        ``passed`` says whether all ways agreed to within ``tol`` (the CLI exits non-zero
        when not), and ``check()`` raises ``TrainingError`` instead.

    Raises:
        ConfigError: ``tol`` is negative or not a number.

    Example:
        >>> tour = run_tour(seed=42)
        >>> tour[-1].title, tour.passed
        ('All ways agree', True)
    """
    if not (isinstance(tol, int | float) and math.isfinite(tol) and tol >= 0):
        raise ConfigError(f"tol={tol!r} must be a finite number >= 0")
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
    lengths = torch.tensor(SEQ_LENGTH)
    auto = resolve_backend(cell, "auto", None, x.device)  # what dynamic_rnn picks below
    auto_len = resolve_backend(cell, "auto", lengths, x.device)
    dyn, _ = dynamic_rnn(cell, x)
    steps.append(TourStep("Dynamic unrolling",
                          f"dynamic_rnn(cell, X)  (ran on the {auto} backend)\n" + _fmt(dyn)))

    # 5. Sequence lengths: instance 1 has one step; its second step is padding.
    dyn_len, state_len = dynamic_rnn(cell, x, sequence_length=lengths)
    steps.append(TourStep("Setting the sequence length",
                          f"dynamic_rnn(cell, X, sequence_length={SEQ_LENGTH})  (ran on the "
                          f"{auto_len} backend)\n"
                          f"outputs (instance 1, t=1 is zero): {_fmt(dyn_len)}\n"
                          f"final states (instance 1: its t=0 output): {_fmt(state_len)}"))

    # 6. Every way of unrolling computes the same function.
    diffs = _compare_all(cell, x, lengths, stacked, dyn, dyn_len, state_len, auto, auto_len)
    text = "\n".join(_difference_line(k, v, tol) for k, v in diffs.items())
    steps.append(TourStep("All ways agree", text))
    return Tour(steps, diffs, tol)


def _compare_all(cell, x, lengths, stacked, dyn, dyn_len, state_len, auto: str,
                 auto_len: str) -> dict[str, float]:
    """Every way of unrolling against the others; name -> largest absolute difference."""
    x0, x1 = x.unbind(1)
    others = {b: dynamic_rnn(cell, x, sequence_length=lengths, backend=b)
              for b in ("fused", "kernel", "loop") if b != auto_len}
    static_len, static_state = static_rnn(cell, [x0, x1], sequence_length=lengths)
    state, manual = cell.zero_state(4), []
    for t in range(2):
        out, new = cell(x[:, t], state)
        valid = (t < lengths)[:, None]
        manual.append(out * valid)
        state = torch.where(valid, new, state)

    def most(a: torch.Tensor, b: torch.Tensor) -> float:
        return float((a - b).abs().max())

    diffs = {
        f"static vs dynamic, {auto} (no lengths)": most(stacked, dyn),
        f"static vs dynamic, {auto_len} (lengths)": most(torch.stack(static_len, 1), dyn_len),
    }
    for name, (out, _) in others.items():
        diffs[f"{auto_len} vs {name} backend (lengths)"] = most(dyn_len, out)
    diffs[f"manual steps vs dynamic, {auto_len}"] = most(torch.stack(manual, 1), dyn_len)
    finals = [static_state, state, *(s for _, s in others.values())]
    diffs[f"final states, static, manual, {', '.join(others)} vs {auto_len}"] = max(
        most(s, state_len) for s in finals)
    return diffs


def _difference_line(name: str, value: float, tol: float) -> str:
    line = f"max |difference|, {name}: {value:.3g}"
    return line if value <= tol else f"{line}  (over the tolerance {tol:g})"


def max_difference(steps: list[TourStep]) -> float:
    """The largest difference reported by the tour's last step (0 when all agree)."""
    return max(float(line.split(": ", 1)[1].split()[0]) for line in steps[-1].text.splitlines())
