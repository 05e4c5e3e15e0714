"""export.classify: the classifier graph (and its MiniRocket member) against eager rnnlab."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnlab.export.classify import ClassifierGraph
from rnnlab.export.rocket import TracedRocket
from rnnlab.models.classifier import ClassifierConfig, SequenceClassifier
from rnnlab.models.rocket_classifier import RocketClassifier, RocketClassifierConfig

F, C = 3, 4
CONFIGS = {
    "gru-bi-max-conv": dict(cell="gru", bidirectional=True, pooling="max", conv_channels=5,
                            conv_kernel=4),
    "lstm-bi-last-2layers": dict(cell="lstm", bidirectional=True, num_layers=2),
    "lstm-attention": dict(cell="lstm", pooling="attention", conv_channels=4),
    "rnn-relu-mean": dict(cell="rnn", activation="relu", init="irnn", pooling="mean"),
    "rnn-last": dict(cell="rnn"),
}


def _model(name):
    torch.manual_seed(3)
    model = SequenceClassifier(ClassifierConfig(input_size=F, num_classes=C, num_units=6,
                                                **CONFIGS[name]))
    with torch.no_grad():  # biases away from 0, so that a wrong mask would show
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return model.eval()


def _batch(B, T, lengths, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, T, F, generator=g)
    lengths = torch.tensor(lengths, dtype=torch.int64)
    pad = torch.arange(T)[None, :, None] >= lengths[:, None, None]
    return torch.where(pad, torch.full_like(x, 50.0), x), lengths


BATCHES = [(5, 11, [11, 0, 4, 1, 7]), (1, 1, [1]), (2, 3, [0, 0]), (1, 17, [17])]


@pytest.mark.parametrize("name", list(CONFIGS))
def test_classifier_graph_is_the_classifier(name):
    model = _model(name)
    module = ClassifierGraph(model)
    for B, T, lengths in BATCHES:
        x, lengths = _batch(B, T, lengths)
        with torch.no_grad():
            torch.testing.assert_close(module(x, lengths), model(x, lengths), atol=1e-6,
                                       rtol=0)


def _rocket(**config):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(24, 30, F, generator=g)
    lengths = torch.randint(1, 31, (24,), generator=g)
    y = torch.randint(0, C, (24,), generator=g)
    rocket = RocketClassifier(RocketClassifierConfig(num_features=168, **config))
    return rocket.fit_closed_form(x, lengths, y).eval()


@pytest.mark.parametrize("config", [{}, {"ppv_over": "length", "length_feature": True}])
def test_traced_rocket_is_the_rocket(config):
    rocket = _rocket(**config)
    traced = TracedRocket(rocket)
    for B, T, lengths in [*BATCHES, (3, 40, [40, 33, 2])]:
        x, lengths = _batch(B, T, lengths, seed=1)
        torch.testing.assert_close(traced(x, lengths), rocket(x, lengths), atol=1e-9,
                                   rtol=1e-9)


def _mixture(model, rocket, temperature, weight, x, lengths):
    # SequencePredictor.proba's arithmetic, on one batch.
    with torch.no_grad():
        network = torch.softmax(model(x, lengths), dim=-1).numpy()
        ridge = torch.softmax(rocket(x, lengths).double() / temperature, dim=-1).numpy()
    return weight * network + (1 - weight) * ridge


@pytest.fixture(scope="module")
def exported():
    """Two graphs (one with a MiniRocket member) through torch.export and ONNX."""
    ort = pytest.importorskip("onnxruntime")
    from rnnlab.export.onnx import onnx_bytes
    from rnnlab.export.torch_export import export_program

    dynamic = {"inputs": {0: "batch", 1: "time"}, "lengths": {0: "batch"}}
    out = {}
    for name, with_rocket in (("gru-bi-max-conv", True), ("lstm-attention", False)):
        model = _model(name)
        rocket = _rocket() if with_rocket else None
        module = ClassifierGraph(model, TracedRocket(rocket) if rocket else None, 0.7, 0.4)
        example = dict(zip(("inputs", "lengths"), _batch(2, 5, [5, 3]), strict=True))
        program = export_program(module, example, dynamic)
        session = ort.InferenceSession(onnx_bytes(module, example, ("logits",), dynamic))
        out[name] = model, rocket, program, session
    return out


@pytest.mark.parametrize("name", ["gru-bi-max-conv", "lstm-attention"])
def test_exported_classifier_matches_eager(exported, name):
    model, rocket, program, session = exported[name]
    for B, T, lengths in [*BATCHES, (64, 40, list(range(0, 40)) + [40] * 24)]:
        x, lengths = _batch(B, T, lengths, seed=2)
        if rocket is None:
            with torch.no_grad():
                want = torch.softmax(model(x, lengths), -1).numpy()
        else:
            want = _mixture(model, rocket, 0.7, 0.4, x, lengths)
        with torch.no_grad():
            traced = program.module()(x, lengths).numpy()
        runtime = session.run(None, {"inputs": x.numpy(), "lengths": lengths.numpy()})[0]
        for logits in (traced, runtime):
            proba = np.exp(logits.astype(np.float64))
            proba /= proba.sum(1, keepdims=True)
            assert np.abs(proba - want).max() <= 1e-5
        if rocket is None:  # plain logits, not only their softmax
            with torch.no_grad():
                assert np.abs(runtime - model(x, lengths).numpy()).max() <= 1e-5
