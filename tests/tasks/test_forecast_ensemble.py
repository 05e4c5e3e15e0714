"""An ensemble of global predictors: each member is fit_global with its own seed."""

from __future__ import annotations

import dataclasses

import numpy as np

from rnnlab.tasks.forecast_ensemble import PredictorEnsemble, fit_ensemble
from rnnlab.tasks.forecast_global import GlobalFitConfig, GlobalModelConfig, fit_global

MODEL = GlobalModelConfig(num_units=4, ensemble=2)
FIT = GlobalFitConfig(epochs=2, batch_size=64, min_steps=0, seed=3)


def _panel(seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(40)
    return [10 + i + np.sin(t[: 40 - 5 * i] / 2) + rng.normal(0, 0.2, 40 - 5 * i)
            for i in range(4)]


def test_members_are_fit_global_with_seeds_seed_and_seed_plus_one():
    ys = _panel()
    ensemble = fit_ensemble(ys, horizon=3, season=1, model=MODEL, fit_config=FIT)
    assert isinstance(ensemble, PredictorEnsemble) and len(ensemble.members) == 2
    single = dataclasses.replace(MODEL, ensemble=1)
    alone = [fit_global(ys, horizon=3, season=1, model=single,
                        fit_config=dataclasses.replace(FIT, seed=FIT.seed + k))
             for k in range(2)]
    got = ensemble.forecast(ys)
    want = [p.forecast(ys) for p in alone]
    for key in ("mean", "lo-80", "hi-80"):
        np.testing.assert_allclose(got[key], (want[0][key] + want[1][key]) / 2, rtol=1e-12)
    assert not np.allclose(want[0]["mean"], want[1]["mean"])  # the seeds differ
    assert [m.weight for m in ensemble.members] == [p.weight for p in alone]
    assert ensemble.horizon == 3 and ensemble.quantiles == (0.1, 0.5, 0.9)
    assert len(ensemble.models) == 2
