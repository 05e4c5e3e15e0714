"""The forecaster: both projections agree, against torch.nn, and generation feeds back."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from rnnlab.errors import ConfigError, ShapeError
from rnnlab.models.forecaster import (
    Forecaster,
    ForecasterConfig,
    forecast_horizon,
    generate,
    predict_next_step,
)


def _pair(**kw):
    """A wrapper model and a dense model holding the same weights."""
    wrap = Forecaster(ForecasterConfig(projection="wrapper", **kw)).double()
    dense = Forecaster(ForecasterConfig(projection="dense", **kw)).double()
    state = {}
    for k, v in wrap.state_dict().items():
        if k.startswith("cell.projection."):
            state["dense." + k.removeprefix("cell.projection.")] = v
        elif k.startswith("cell.cell."):
            state["cell." + k.removeprefix("cell.cell.")] = v
        else:
            state[k] = v
    dense.load_state_dict(state)
    return wrap, dense


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("layers", [1, 3])
@pytest.mark.parametrize("backend", ["loop", "auto"])
def test_wrapper_and_dense_projection_compute_the_same_function(cell, layers, backend):
    # "loop" projects inside the loop at every step, as the notebook's wrapper does.
    wrap, dense = _pair(cell=cell, num_units=7, num_layers=layers, output_size=2,
                        input_size=2, horizon=3, backend=backend)
    x = torch.randn(5, 9, 2, dtype=torch.float64, requires_grad=True)
    yw, aw = wrap.split_outputs(wrap(x))
    yd, ad = dense.split_outputs(dense(x))
    torch.testing.assert_close(yw, yd, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(aw, ad, rtol=1e-12, atol=1e-12)
    gw = torch.autograd.grad(yw.sum() + aw.sum(), [x, *wrap.parameters()])
    gd = torch.autograd.grad(yd.sum() + ad.sum(), [x, *dense.parameters()])
    torch.testing.assert_close(gw[0], gd[0], rtol=1e-12, atol=1e-12)
    assert sorted(g.norm().item() for g in gw[1:]) == pytest.approx(
        sorted(g.norm().item() for g in gd[1:]), rel=1e-10)
    assert yw.shape == (5, 9, 2) and aw.shape == (5, 3, 2)


def test_notebook_model_matches_torch_rnn_plus_linear():
    # The notebook's model: relu RNN(100) + per-step projection to 1 value.
    model = Forecaster(ForecasterConfig(num_units=100)).double()
    ref_rnn = nn.RNN(1, 100, nonlinearity="relu", batch_first=True).double()
    ref_out = nn.Linear(100, 1).double()
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(model.cell, name).copy_(getattr(ref_rnn, name + "_l0"))
        model.dense.load_state_dict(ref_out.state_dict())
    x = torch.randn(4, 20, 1, dtype=torch.float64)
    torch.testing.assert_close(model(x), ref_out(ref_rnn(x)[0]), rtol=1e-12, atol=1e-12)


def test_direct_head_reads_the_top_layers_final_state():
    model = Forecaster(ForecasterConfig(cell="lstm", num_units=6, num_layers=2, horizon=4))
    x = torch.randn(3, 5, 1)
    _, ahead = model.split_outputs(model(x))
    _, state = model.run(x)
    h_top = state[-1][0]
    torch.testing.assert_close(ahead, model.head(h_top).view(3, 4, 1))


def test_generate_window_mode_is_the_books_loop():
    model = Forecaster(ForecasterConfig(num_units=8, cell="gru")).double()
    seed = np.linspace(-1, 1, 6)
    out = generate(model, seed, 4)
    # The book: sequence = seed; repeat: predict from the last W values, append the last.
    seq = list(seed)
    with torch.no_grad():
        for _ in range(4):
            x = torch.tensor(seq[-6:], dtype=torch.float64).view(1, 6, 1)
            seq.append(model(x)[0, -1, 0].item())
    np.testing.assert_allclose(out[0, :, 0].numpy(), seq[6:], rtol=1e-12)
    assert model.training  # mode restored


def test_generate_stateful_equals_running_the_whole_sequence():
    model = Forecaster(ForecasterConfig(num_units=8, cell="lstm", num_layers=2)).double()
    seed = torch.randn(2, 5, dtype=torch.float64)
    out = generate(model, seed, 3, stateful=True)  # (2, 3, 1)
    # Feeding [seed, out[:-1]] through the model at once must give the same predictions.
    full = torch.cat([seed[..., None], out[:, :-1]], dim=1)
    with torch.no_grad():
        y = model(full)
    torch.testing.assert_close(y[:, 4:], out, rtol=1e-12, atol=1e-12)


def test_forecast_horizon_direct_and_recursive():
    model = Forecaster(ForecasterConfig(num_units=8, horizon=3)).double()
    x = np.random.default_rng(0).normal(size=(7, 10))
    direct = forecast_horizon(model, x, 2, batch_size=3)
    with torch.no_grad():
        y = model(torch.tensor(x)[..., None])  # (7, 10 + 3, 1): next steps, then the head
        ahead = y[:, 10:]
    np.testing.assert_allclose(direct, ahead[:, :2, 0].numpy())
    rec = forecast_horizon(model, x, 5)  # beyond the head: feed back
    np.testing.assert_allclose(rec, generate(model, x, 5)[..., 0].numpy())
    with pytest.raises(ConfigError, match="horizon is 3"):
        forecast_horizon(model, x, 4, method="direct")
    nxt = predict_next_step(model, x)
    with torch.no_grad():
        ref = model(torch.tensor(x)[..., None])[:, :10, 0].numpy()
    np.testing.assert_allclose(nxt, ref)


def test_dropout_is_active_in_training_only():
    model = Forecaster(ForecasterConfig(num_units=16, num_layers=2, dropout=0.5))
    x = torch.randn(4, 6, 1)
    a, b = model(x), model(x)
    assert not torch.equal(a, b)
    model.eval()
    torch.testing.assert_close(model(x), model(x))


def test_config_errors():
    with pytest.raises(ConfigError, match="'transformer'"):
        ForecasterConfig(cell="transformer")
    with pytest.raises(ConfigError, match="'conv'"):
        ForecasterConfig(projection="conv")
    with pytest.raises(ConfigError, match=r"dropout=1\.0"):
        ForecasterConfig(dropout=1.0)
    with pytest.raises(ConfigError, match="num_units=0"):
        ForecasterConfig(num_units=0)
    model = Forecaster(ForecasterConfig(num_units=4))
    with pytest.raises(ShapeError, match=r"\(B, T, 1\)"):
        model(torch.zeros(2, 3))
    with pytest.raises(ConfigError, match="input_size == output_size"):
        generate(Forecaster(ForecasterConfig(num_units=4, input_size=2)), np.zeros((1, 3, 2)), 2)


def test_keras_init_and_learning_a_sine():
    torch.manual_seed(0)
    model = Forecaster(ForecasterConfig(num_units=16, cell="gru", init="keras"))
    assert torch.all(model.cell.bias_ih == 0)
    t = torch.arange(0, 80, dtype=torch.float32) * 0.3
    segs = torch.sin(t).unfold(0, 11, 1)  # (70, 11)
    x, y = segs[:, :-1, None], segs[:, 1:, None]
    opt = torch.optim.Adam(model.parameters(), lr=2e-2)
    for _ in range(40):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
    assert loss.item() < 0.02  # from ~0.5: it learns
