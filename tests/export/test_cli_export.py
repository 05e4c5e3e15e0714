"""rnnlab export, then rnnlab predict FILE.onnx / FILE.pt2: the run folder's answers."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from rnnlab import cli
from rnnlab.data.idx import write_idx
from rnnlab.data.synthetic_sequences import make_sequences
from rnnlab.data.ts import write_ts

pytest.importorskip("onnxruntime")

LABELS = ["walk", "run", "jump"]
FAST = ["--units", "6", "--conv-channels", "4", "--epochs", "2", "--batch-size", "16",
        "--quiet", "--threads", "1"]


@pytest.fixture(scope="module")
def sequence_run(tmp_path_factory):
    """A tiny classify run on a .ts file (GRU + MiniRocket member), exported both ways."""
    folder = tmp_path_factory.mktemp("export")
    train = make_sequences(60, num_classes=3, num_features=2, min_length=13, max_length=30,
                           seed=1, labels=LABELS)
    test = make_sequences(25, num_classes=3, num_features=2, min_length=13, max_length=45,
                          seed=2, labels=LABELS)
    write_ts(folder / "train.ts", train)
    write_ts(folder / "test.ts", test)
    run = folder / "run"
    assert cli.main(["train", "classify", "--dataset", str(folder / "train.ts"),
                     "--out", str(run), *FAST]) == 0
    assert cli.main(["export", str(run), "--out", str(folder / "m.onnx"), "--quiet"]) == 0
    assert cli.main(["export", str(run), "--format", "torch-export", "--out",
                     str(folder / "m.pt2"), "--quiet"]) == 0
    return folder, run


def _predict(capsys, target, *args):
    capsys.readouterr()
    assert cli.main(["predict", str(target), *args]) == 0
    return capsys.readouterr().out


def _same_rows(got, want):
    assert len(got) == len(want) > 0
    for a, b in zip(got, want, strict=True):
        assert {k: v for k, v in a.items() if k not in ("probability", "probabilities")} == {
            k: v for k, v in b.items() if k not in ("probability", "probabilities")}
        assert abs(a["probability"] - b["probability"]) <= 1e-5
        assert a["probabilities"].keys() == b["probabilities"].keys()
        for label, p in a["probabilities"].items():
            assert abs(p - b["probabilities"][label]) <= 1e-5


@pytest.mark.parametrize("suffix", [".onnx", ".pt2"])
def test_predict_an_exported_file_as_the_run(sequence_run, capsys, suffix):
    folder, run = sequence_run
    test = str(folder / "test.ts")
    want = [json.loads(x) for x in _predict(capsys, run, test, "--json").splitlines()]
    got = [json.loads(x) for x in _predict(capsys, folder / f"m{suffix}", test,
                                           "--json").splitlines()]
    _same_rows(got, want)
    # The data flag form and the text table too: the same labels, row by row.
    table = _predict(capsys, folder / f"m{suffix}", "--dataset", test, "--top-k", "2")
    assert table.splitlines()[0] == _predict(capsys, run, "--dataset", test,
                                             "--top-k", "2").splitlines()[0]
    assert len(table.splitlines()) == len(want) + 1


def test_the_onnx_file_carries_its_metadata(sequence_run):
    import onnx

    folder, run = sequence_run
    classes = json.loads((run / "config.json").read_text())["data"]["classes"]
    model = onnx.load(str(folder / "m.onnx"))
    meta = json.loads({p.key: p.value for p in model.metadata_props}["rnnlab"])
    beside = json.loads((folder / "m.onnx.json").read_text())
    assert meta == beside
    assert meta["task"] == "classify" and meta["classes"] == classes
    assert sorted(classes) == sorted(LABELS)
    assert meta["scaler"]["kind"] and meta["inputs"] == ["inputs", "lengths"]
    assert [i.name for i in model.graph.input] == ["inputs", "lengths"]
    assert [o.name for o in model.graph.output] == ["logits"]


def test_without_onnxruntime_predict_says_which_extra(sequence_run, capsys, monkeypatch):
    folder, _ = sequence_run
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    capsys.readouterr()
    assert cli.main(["predict", str(folder / "m.onnx"), str(folder / "test.ts")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rnnlab: error:") and "pip install 'rnnlab[onnx]'" in err
    assert len(err.strip().splitlines()) == 1


def test_an_image_run_exports_and_predicts_idx_files(tmp_path, capsys):
    run = tmp_path / "digits"
    assert cli.main(["train", "classify", "--model", "lstm", "--units", "8", "--max-steps",
                     "3", "--out", str(run), "--quiet", "--threads", "1"]) == 0
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(7, 8, 8), dtype=np.uint8)
    write_idx(tmp_path / "x.idx", images)
    assert cli.main(["export", str(run), "--quiet"]) == 0
    assert (run / "model.onnx").is_file() and (run / "model.onnx.json").is_file()
    want = [json.loads(x) for x in _predict(capsys, run, str(tmp_path / "x.idx"),
                                            "--json").splitlines()]
    got = [json.loads(x) for x in _predict(capsys, run / "model.onnx",
                                           str(tmp_path / "x.idx"), "--json").splitlines()]
    _same_rows(got, want)
    # Training the folder again from scratch leaves no stale export of the old model.
    assert cli.main(["train", "classify", "--model", "gru", "--units", "4", "--max-steps",
                     "1", "--out", str(run), "--overwrite", "--quiet", "--threads", "1"]) == 0
    assert not (run / "model.onnx").exists() and not (run / "model.onnx.json").exists()


def test_export_refuses_what_it_cannot_export(tmp_path, capsys):
    run = tmp_path / "mlp"
    assert cli.main(["train", "classify", "--model", "bnmlp", "--max-steps", "1", "--out",
                     str(run), "--quiet"]) == 0
    capsys.readouterr()
    assert cli.main(["export", str(run), "--out", str(tmp_path / "x.onnx")]) == 2
    assert "bnmlp" in capsys.readouterr().err
    assert not (tmp_path / "x.onnx").exists()


def test_an_out_that_does_not_match_the_format_is_refused_before_tracing(sequence_run,
                                                                          tmp_path, capsys):
    _, run = sequence_run
    assert cli.main(["export", str(run), "--format", "onnx", "--out",
                     str(tmp_path / "x.pt2")]) == 2
    err = capsys.readouterr().err
    assert "must end in .onnx" in err and "--out" in err
    assert not (tmp_path / "x.pt2").exists()
    # A new folder for the file is made.
    assert cli.main(["export", str(run), "--out", str(tmp_path / "new" / "m.onnx"),
                     "--quiet"]) == 0
    assert (tmp_path / "new" / "m.onnx").is_file()
