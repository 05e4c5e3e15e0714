"""With default options, the sequence classifier is bit for bit the model it was before them.

``LegacyClassifier`` is the SequenceClassifier as it stood before pooling and the
convolutional front end existed (commit c72cb56), kept here verbatim as the reference.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from rnnlab.cells import init_keras_
from rnnlab.config import from_dict
from rnnlab.models.classifier import ClassifierConfig, SequenceClassifier, config_dict, make_cell
from rnnlab.rnn import bidirectional_dynamic_rnn, dynamic_rnn

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "v1" / "classify"
OLD_KEYS = {"input_size", "num_classes", "cell", "num_units", "num_layers", "bidirectional",
            "dropout", "init", "activation"}


def _final_output(state):
    return state[0] if isinstance(state, tuple) else state


class LegacyClassifier(nn.Module):
    """The classifier's code before the new options (the reference for this file)."""

    def __init__(self, config: ClassifierConfig):
        super().__init__()
        self.config = config
        directions = 2 if config.bidirectional else 1
        self.cells_fw = nn.ModuleList()
        self.cells_bw = nn.ModuleList()
        for layer in range(config.num_layers):
            size = config.input_size if layer == 0 else config.num_units * directions
            self.cells_fw.append(make_cell(config.cell, size, config.num_units,
                                           config.activation))
            if config.bidirectional:
                self.cells_bw.append(make_cell(config.cell, size, config.num_units,
                                               config.activation))
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.num_units * directions, config.num_classes)
        if config.init in ("keras", "irnn"):
            init_keras_(self)
            nn.init.xavier_uniform_(self.head.weight)
            nn.init.zeros_(self.head.bias)
        if config.init == "irnn":
            with torch.no_grad():
                for cell in [*self.cells_fw, *self.cells_bw]:
                    cell.weight_hh.copy_(torch.eye(config.num_units))

    def forward(self, inputs: Tensor, lengths: Tensor | None = None) -> Tensor:
        x = inputs
        for layer, cell_fw in enumerate(self.cells_fw):
            if layer > 0:
                x = self.dropout(x)
            if self.config.bidirectional:
                (out_fw, out_bw), (s_fw, s_bw) = bidirectional_dynamic_rnn(
                    cell_fw, self.cells_bw[layer], x, sequence_length=lengths)
                x = torch.cat([out_fw, out_bw], dim=-1)
                final = torch.cat([_final_output(s_fw), _final_output(s_bw)], dim=-1)
            else:
                x, state = dynamic_rnn(cell_fw, x, sequence_length=lengths)
                final = _final_output(state)
        return self.head(self.dropout(final))


CONFIGS = [
    dict(cell="rnn"),
    dict(cell="rnn", init="irnn", activation="relu", num_layers=2),
    dict(cell="lstm", bidirectional=True, num_layers=2, dropout=0.3),
    dict(cell="gru", init="torch", dropout=0.5),
    dict(cell="gru", bidirectional=True),
]


@pytest.mark.parametrize("options", CONFIGS, ids=lambda o: "-".join(map(str, o.values())))
def test_default_options_give_the_legacy_model_bit_for_bit(options):
    cfg = ClassifierConfig(input_size=3, num_classes=4, num_units=5, **options)
    torch.manual_seed(7)
    model = SequenceClassifier(cfg)
    torch.manual_seed(7)
    legacy = LegacyClassifier(cfg)
    # Same parameters, same names, drawn from the generator in the same order.
    ours, theirs = model.state_dict(), legacy.state_dict()
    assert list(ours) == list(theirs)
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)

    x = torch.randn(4, 6, 3)
    lengths = torch.tensor([6, 2, 0, 5])
    model.eval(), legacy.eval()
    for lens in (None, lengths):
        assert torch.equal(model(x, lens), legacy(x, lens))
    # Training mode: the same dropout draws and the same gradients.
    model.train(), legacy.train()
    outs = []
    for net in (model, legacy):
        torch.manual_seed(3)
        out = net(x, lengths)
        out.square().sum().backward()
        outs.append(out)
    assert torch.equal(outs[0], outs[1])
    for (name, p), q in zip(model.named_parameters(), legacy.parameters(), strict=True):
        assert torch.equal(p.grad, q.grad), name


def test_a_saved_config_without_the_new_fields_loads_with_todays_behaviour():
    old = {"input_size": 8, "num_classes": 10, "cell": "gru", "num_units": 4, "num_layers": 1,
           "bidirectional": False, "dropout": 0.0, "init": "keras", "activation": "tanh"}
    for cfg in (ClassifierConfig(**old), from_dict(ClassifierConfig, old)):
        assert (cfg.pooling, cfg.conv_channels, cfg.conv_kernel) == ("last", 0, 3)
    saved = config_dict(ClassifierConfig(**old))
    assert set(saved) == OLD_KEYS | {"pooling", "conv_channels", "conv_kernel"}
    assert ClassifierConfig(**saved) == ClassifierConfig(**old)


def test_the_v1_run_folder_loads_and_predicts_as_the_legacy_model(tmp_path):
    from rnnlab.runs import load_weights

    run = tmp_path / "run"
    shutil.copytree(FIXTURE, run)
    entry = json.loads((run / "config.json").read_text())["model"]["config"]
    assert set(entry) == OLD_KEYS  # the fixture predates the new fields
    model = SequenceClassifier(ClassifierConfig(**entry))
    legacy = LegacyClassifier(ClassifierConfig(**entry))
    load_weights(run, model)
    legacy.load_state_dict(model.state_dict(), strict=True)
    legacy.eval()
    torch.manual_seed(0)
    x = torch.rand(5, 8, 8)
    lengths = torch.tensor([8, 3, 1, 0, 6])
    for lens in (None, lengths):
        assert torch.equal(model(x, lens), legacy(x, lens))
