"""rnnlab tour exits non-zero when its ways of unrolling disagree."""

from __future__ import annotations

import functools

import rnnlab.tasks.tour as tour_module
from rnnlab import cli


def test_tour_passes_and_prints_one_line_per_comparison(capsys):
    assert cli.main(["tour"]) == 0
    out = capsys.readouterr().out
    assert "== All ways agree" in out and out.count("max |difference|, ") >= 5


def test_tour_fails_with_status_1_past_its_tolerance(monkeypatch, capsys):
    strict = functools.partial(tour_module.run_tour, tol=1e-30)  # float32 differs more
    monkeypatch.setattr(tour_module, "run_tour", strict)
    assert cli.main(["tour"]) == 1
    assert capsys.readouterr().err.startswith("rnnlab: error:")
