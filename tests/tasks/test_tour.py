"""The notebook walkthrough agrees with itself to float32 rounding."""

import re

import pytest
import torch

from rnnlab.errors import ConfigError, TrainingError
from rnnlab.tasks import tour as tour_module
from rnnlab.tasks.tour import TOLERANCE, max_difference, run_tour

LINE = re.compile(r"max \|difference\|, (?P<name>[^:]+): (?P<value>\S+)")


def test_tour_ways_of_unrolling_agree():
    steps = run_tour(seed=3)
    assert next(s.title for s in steps) == "Manual RNN"
    assert max_difference(steps) < 1e-6


def test_the_last_step_checks_each_comparison_against_the_tolerance():
    tour = run_tour(seed=42)
    assert tour.passed and tour.tol == TOLERANCE == 1e-6 and not tour.failures
    tour.check()  # does not raise
    assert tour[-1].title == "All ways agree"
    lines = tour[-1].text.splitlines()
    assert len(lines) == len(tour.differences) >= 5
    for line, (name, value) in zip(lines, tour.differences.items(), strict=True):
        m = LINE.fullmatch(line)
        assert m and m["name"] == name and float(m["value"]) == pytest.approx(value, abs=1e-9)


def test_backends_are_named_as_dynamic_rnn_ran_them():
    # On the CPU dynamic_rnn runs the tour's RNN on rnnlab's kernel, with lengths and
    # without (faster there; resolve_backend is tested against what runs in tests/nn).
    tour = run_tour(seed=0)
    text = {s.title: s.text for s in tour}
    assert "(ran on the kernel backend)" in text["Dynamic unrolling"]
    assert "(ran on the kernel backend)" in text["Setting the sequence length"]
    names = list(tour.differences)
    assert names[:2] == ["static vs dynamic, kernel (no lengths)",
                         "static vs dynamic, kernel (lengths)"]
    assert {"kernel vs fused backend (lengths)", "kernel vs loop backend (lengths)"} <= set(names)
    assert "fused vs loop backend" not in text["All ways agree"]  # the old, untrue label


def test_a_disagreement_fails_the_tour(monkeypatch):
    real = tour_module.dynamic_rnn

    def off_by_a_little(cell, inputs, *args, backend="auto", **kwargs):
        out, state = real(cell, inputs, *args, backend=backend, **kwargs)
        return (out + 1e-3 if backend == "loop" else out), state

    monkeypatch.setattr(tour_module, "dynamic_rnn", off_by_a_little)
    tour = run_tour(seed=1)
    assert not tour.passed
    assert list(tour.failures) == ["kernel vs loop backend (lengths)"]
    assert "loop backend (lengths): 0.001  (over the tolerance 1e-06)" in tour[-1].text
    assert tour[-1].title == "All ways agree"  # the title stays; the verdict is the flag
    assert max_difference(tour) == pytest.approx(1e-3, rel=1e-3)
    with pytest.raises(TrainingError, match=r"disagree by more than tol=1e-06: kernel vs loop"):
        tour.check()
    assert run_tour(seed=1, tol=1e-2).passed


def test_nan_is_never_agreement(monkeypatch):
    real = tour_module.static_rnn

    def nan_static(cell, inputs, *args, **kwargs):
        outs, state = real(cell, inputs, *args, **kwargs)
        return [torch.full_like(o, float("nan")) for o in outs], state

    monkeypatch.setattr(tour_module, "static_rnn", nan_static)
    assert not run_tour(seed=1).passed


@pytest.mark.parametrize("tol", [-1e-6, float("nan"), "small"])
def test_bad_tolerance_is_refused(tol):
    with pytest.raises(ConfigError, match="tol="):
        run_tour(tol=tol)
