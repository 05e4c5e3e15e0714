"""export.forecast: windowed and global forecasters against eager rnnlab, exported too."""

from __future__ import annotations

import json
from dataclasses import replace as dataclasses_replace
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from rnnlab.data.series_windows import StandardScaler
from rnnlab.export.forecast import feed, global_graph, rows, windowed_graph
from rnnlab.models.forecaster import Forecaster, ForecasterConfig
from rnnlab.models.global_forecaster import GlobalForecaster, GlobalForecasterConfig
from rnnlab.tasks.forecast_data import LoadedForecast
from rnnlab.tasks.forecast_global import GlobalPredictor

W = 6


def _perturbed(model, seed):
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.2)
    return model.eval()


def _windowed(kind):
    configs = {
        "direct-lstm": ForecasterConfig(cell="lstm", num_units=5, horizon=4),
        "recursive-rnn-wrapper": ForecasterConfig(num_units=5, projection="wrapper",
                                                  num_layers=2),
        "recursive-gru": ForecasterConfig(cell="gru", num_units=5),
    }
    model = _perturbed(Forecaster(configs[kind]), 1)
    scaler = StandardScaler(mean=3.0, std=2.5)
    config = SimpleNamespace(data=SimpleNamespace(window=W), relative=kind != "recursive-gru")
    return LoadedForecast(model, config, scaler)


def _histories(seed=0, sizes=(6, 9, 14, 7)):
    rng = np.random.default_rng(seed)
    return [3 + np.cumsum(rng.normal(size=n)) * 0.3 for n in sizes]


def _global(transform="auto", layers=1, skip=0, members=2):
    cfg = GlobalForecasterConfig(cell="lstm" if layers > 1 else "gru", num_units=4,
                                 num_layers=layers, horizon=3, quantiles=(0.1, 0.25, 0.5,
                                                                          0.75, 0.9),
                                 skip=skip)
    models = [_perturbed(GlobalForecaster(cfg), seed) for seed in range(members)]
    corrections = {50: np.array([0.1, -0.05, 0.2]), 80: np.array([0.3, 0.0, -0.1])}
    return GlobalPredictor(models, window=W, horizon=3, season=2,
                           quantiles=cfg.quantiles, corrections=corrections,
                           transform=transform)


def _run(graph, histories):
    arrays = feed({"histories": histories}, graph.metadata)
    with torch.no_grad():
        out = graph.module(torch.from_numpy(arrays["inputs"]),
                           torch.from_numpy(arrays["lengths"]))
    out = out if isinstance(out, tuple) else (out,)
    return dict(zip(graph.outputs, (o.numpy() for o in out), strict=True))


@pytest.mark.parametrize("kind", ["direct-lstm", "recursive-rnn-wrapper", "recursive-gru"])
@pytest.mark.parametrize("steps", [1, 4])
def test_windowed_graph_is_the_forecast(kind, steps):
    loaded = _windowed(kind)
    graph = windowed_graph(loaded.model, window=W, horizon=steps, mean=3.0, std=2.5,
                           relative=loaded.config.relative)
    histories = _histories()
    want = np.stack([loaded.forecast(h, steps) for h in histories])
    got = _run(graph, histories)["forecast"]
    assert got.shape == (len(histories), steps)
    assert np.abs(got - want).max() <= 1e-5


def test_a_run_that_chose_recursive_exports_recursive_forecasts():
    loaded = _windowed("direct-lstm")  # a direct head of 4 steps
    loaded.method = "recursive"  # what its multistep.json chose
    graph = windowed_graph(loaded.model, window=W, horizon=3, mean=3.0, std=2.5,
                           relative=loaded.config.relative, method=loaded.method)
    histories = _histories()
    want = np.stack([loaded.forecast(h, 3) for h in histories])
    direct = np.stack([dataclasses_replace(loaded, method="direct").forecast(h, 3)
                       for h in histories])
    assert np.abs(want - direct).max() > 1e-3  # the two methods differ here
    assert graph.metadata["method"] == "recursive"
    assert np.abs(_run(graph, histories)["forecast"] - want).max() <= 1e-5


@pytest.mark.parametrize("options", [{}, {"transform": "none", "layers": 2, "skip": 3}])
def test_global_graph_is_the_forecast(options):
    predictor = _global(**options)
    histories = [*_histories(sizes=(1, 2, 5, 6, 11)), np.array([1.0, -2.0, 3.0, 0.5])]
    want = predictor.forecast(histories)
    graph = global_graph(predictor)
    got = _run(graph, histories)
    assert graph.outputs == ("forecast", "lo_50", "hi_50", "lo_80", "hi_80")
    assert np.abs(got["forecast"] - want["mean"]).max() <= 1e-5
    for L in (50, 80):
        assert np.abs(got[f"lo_{L}"] - want[f"lo-{L}"]).max() <= 1e-5
        assert np.abs(got[f"hi_{L}"] - want[f"hi-{L}"]).max() <= 1e-5
    table = rows(got, graph.metadata, None)
    assert table[0]["series"] == 0 and len(table[0]["lo_80"]) == 3


def test_global_graph_refuses_what_it_does_not_compute():
    from rnnlab.errors import ConfigError

    predictor = _global()
    predictor.weight, predictor.partner = 0.5, "theta"
    with pytest.raises(ConfigError, match="'theta'"):
        global_graph(predictor)


def test_the_damped_trend_in_the_graph_is_numpys():
    from rnnlab.export.forecast import damped_trend as traced
    from rnnlab.tasks.forecast_smoothing import damped_trend

    histories = [*_histories(3, sizes=(1, 2, 3, 4, 12)), np.array([5.0, -2.0, 7.0, 1.0, 0.0])]
    arrays = feed({"histories": histories}, {"model": "global"})
    got = traced(torch.from_numpy(arrays["inputs"][..., 0]).double(),
                 torch.from_numpy(arrays["lengths"]), 4).numpy()
    for row, y in zip(got, histories, strict=True):
        np.testing.assert_allclose(row, damped_trend(y.astype(np.float32).astype(float), 4),
                                   rtol=1e-12, atol=1e-12)


def test_a_combined_global_model_exports_its_combination():
    ort = pytest.importorskip("onnxruntime")
    from rnnlab.export.onnx import onnx_bytes

    predictor = _global()
    predictor.weight = 0.25  # the RNN's quarter, the damped trend's three quarters
    histories = [*_histories(4, sizes=(2, 5, 9, 16)), np.array([2.0, 3.0, 2.5, 4.0])]
    want = predictor.forecast(histories)
    assert not np.allclose(want["mean"], _global().forecast(histories)["mean"])
    g = global_graph(predictor)
    got = _run(g, histories)
    session = ort.InferenceSession(onnx_bytes(g.module, g.inputs, g.outputs, g.dynamic))
    runtime = dict(zip(g.outputs, session.run(None, feed({"histories": histories},
                                                          g.metadata)), strict=True))
    for ours in (got, runtime):
        assert np.abs(ours["forecast"] - want["mean"]).max() <= 1e-5
        assert np.abs(ours["lo_80"] - want["lo-80"]).max() <= 1e-5
        assert np.abs(ours["hi_50"] - want["hi-50"]).max() <= 1e-5


def test_an_ensemble_of_predictors_exports_their_mean():
    ort = pytest.importorskip("onnxruntime")
    from rnnlab.export.onnx import onnx_bytes
    from rnnlab.tasks.forecast_ensemble import PredictorEnsemble

    a, b = _global(members=1), _global(transform="none", members=1)
    b.models = [_perturbed(b.models[0], 7)]
    a.weight, b.weight = 0.5, 1.0  # each member its own combination and corrections
    b.corrections = {L: c + 0.2 for L, c in b.corrections.items()}
    ensemble = PredictorEnsemble([a, b])
    histories = [*_histories(5, sizes=(3, 6, 12)), np.array([2.0, 4.0, 3.5, 5.0, 6.0])]
    want = ensemble.forecast(histories)
    members = [a.forecast(histories), b.forecast(histories)]
    np.testing.assert_allclose(want["lo-80"], (members[0]["lo-80"] + members[1]["lo-80"]) / 2)
    g = global_graph(ensemble)
    assert g.metadata["weight"] == [0.5, 1.0]
    session = ort.InferenceSession(onnx_bytes(g.module, g.inputs, g.outputs, g.dynamic))
    runtime = dict(zip(g.outputs, session.run(None, feed({"histories": histories},
                                                          g.metadata)), strict=True))
    for ours in (_run(g, histories), runtime):
        assert np.abs(ours["forecast"] - want["mean"]).max() <= 1e-4
        assert np.abs(ours["lo_80"] - want["lo-80"]).max() <= 1e-4
        assert np.abs(ours["hi_50"] - want["hi-50"]).max() <= 1e-4


@pytest.fixture(scope="module")
def exported():
    ort = pytest.importorskip("onnxruntime")
    from rnnlab.export.onnx import onnx_bytes
    from rnnlab.export.torch_export import export_program

    out = {}
    graphs = {"windowed": windowed_graph(_windowed("recursive-rnn-wrapper").model, window=W,
                                         horizon=3, mean=3.0, std=2.5, relative=True),
              "global": global_graph(_global())}
    for name, g in graphs.items():
        program = export_program(g.module, g.inputs, g.dynamic)
        blob = onnx_bytes(g.module, g.inputs, g.outputs, g.dynamic)
        out[name] = g, program, ort.InferenceSession(blob)
    return out


@pytest.mark.parametrize("name", ["windowed", "global"])
def test_exported_forecasters_match_eager(exported, name):
    g, program, session = exported[name]
    for histories in (_histories(1, sizes=(6, 20, 8)), _histories(2, sizes=(7,))):
        arrays = feed({"histories": histories}, g.metadata)
        want = _run(g, histories)
        with torch.no_grad():
            traced = program.module()(*(torch.from_numpy(a) for a in arrays.values()))
        traced = traced if isinstance(traced, tuple) else (traced,)
        runtime = session.run(None, arrays)
        for k, t, r in zip(g.outputs, traced, runtime, strict=True):
            assert np.abs(t.numpy() - want[k]).max() <= 1e-5
            assert np.abs(r - want[k]).max() <= 1e-5


def test_a_forecast_run_exports_its_horizon_and_forecasts_as_loaded(tmp_path):
    from rnnlab import cli
    from rnnlab.export.runtime import run_file
    from rnnlab.tasks.base import get_task
    from rnnlab.training.runfolder import RunDir

    pytest.importorskip("onnxruntime")
    run = tmp_path / "sine"
    assert cli.main(["train", "forecast", "--iterations", "20", "--units", "4",
                     "--batch-size", "10", "--device", "cpu", "--quiet", "--out",
                     str(run)]) == 0
    assert cli.main(["export", str(run), "--horizon", "5", "--out", str(tmp_path / "f.onnx"),
                     "--quiet"]) == 0
    loaded = get_task("forecast").load(RunDir(run))
    histories = _histories(3, sizes=(loaded.config.data.window, 40))
    want = np.stack([loaded.forecast(h, 5) for h in histories])
    meta = json.loads((tmp_path / "f.onnx.json").read_text())
    assert meta["task"] == "forecast" and meta["horizon"] == 5
    outputs, _ = run_file(tmp_path / "f.onnx", feed({"histories": histories}, meta))
    assert outputs["forecast"].shape == (2, 5)
    assert np.abs(outputs["forecast"] - want).max() <= 1e-5
