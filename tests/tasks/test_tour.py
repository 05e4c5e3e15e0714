"""The notebook walkthrough agrees with itself to float32 rounding."""

from rnnlab.tasks.tour import max_difference, run_tour


def test_tour_ways_of_unrolling_agree():
    steps = run_tour(seed=3)
    assert next(s.title for s in steps) == "Manual RNN"
    assert max_difference(steps) < 1e-6
