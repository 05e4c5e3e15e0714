"""Exported text models compute what the eager ones do, on shapes unseen at export time.

Every kind is exported (ONNX through the dynamo exporter, run by onnxruntime; and
``torch.export``) with B = 2, T = 7, then run on batches of other B and T (shorter and
longer than maxlen), lengths 0 included and junk past every length, and compared with the
eager model on what training would have fed it (``pad_sequences`` of the valid prefixes).
"""

from __future__ import annotations

import csv
import random
import warnings

import numpy as np
import pytest
import torch

from rnnlab.errors import ConfigError
from rnnlab.export.graph import Graph
from rnnlab.export.onnx import onnx_bytes
from rnnlab.export.text import feed, from_predictor, graph, ngram_buckets, repad, rows
from rnnlab.export.torch_export import export_program
from rnnlab.models.text import TextClassifier, TextModelConfig
from rnnlab.models.text_nbsvm import NgramLinear
from rnnlab.models.text_ngrams import _hash_rows, ngram_rows
from rnnlab.tasks.runner import train_run
from rnnlab.tasks.text import TextPredictor, TextTask
from rnnlab.tasks.text_ngram import NgramModelConfig, NgramPredictor, ngram_tokenizer
from rnnlab.text import Tokenizer, pad_sequences
from rnnlab.training.runfolder import RunDir

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

VOCAB, MAXLEN, JUNK = 30, 6, 10**6  # JUNK past every length: would break any lookup
# (B, T, lengths): none of them the export's (2, 7); T below and above MAXLEN; length 0.
BATCHES = [(1, 3, [0]), (5, 11, [0, 1, 11, 4, 6]), (3, 4, [4, 2, 0]), (4, 9, [9, 7, 6, 5])]


def _onnx(g: Graph):
    """An onnxruntime session of ``g``, written by rnnlab's own ONNX writer."""
    blob = onnx_bytes(g.module, g.inputs, g.outputs, g.dynamic)
    session = ort.InferenceSession(blob, providers=["CPUExecutionProvider"])
    return lambda arrays: dict(zip(g.outputs, session.run(None, dict(arrays)), strict=True))


def _torch_export(g: Graph):
    module = export_program(g.module, g.inputs, g.dynamic).module()
    return lambda arrays: {"logits": module(*(torch.from_numpy(arrays[k]) for k in g.inputs))
                           .detach().numpy()}


def _batch(B: int, T: int, lengths, seed: int, high: int = VOCAB):
    """Random ids in [1, high) with JUNK past each length, and the valid prefixes."""
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(1, high, (B, T), generator=g)
    seqs = [tokens[b, :n].tolist() for b, n in enumerate(lengths)]
    for b, n in enumerate(lengths):
        tokens[b, n:] = JUNK
    return {"tokens": tokens.numpy(), "lengths": np.asarray(lengths, np.int64)}, seqs


def _classifier(kind: str, classes: int, buckets: int = 0, **extra) -> TextPredictor:
    torch.manual_seed(len(kind) + classes)
    model = TextClassifier(TextModelConfig(kind=kind, vocab_size=VOCAB, embedding_dim=4,
                                           maxlen=MAXLEN, num_classes=classes, hidden=5,
                                           bigram_buckets=buckets, **extra)).eval()
    with torch.no_grad():
        if kind == "nbsvm":  # trained weights and ratios, not the zeros it starts with
            torch.nn.init.normal_(model.embedding.weight)
            torch.nn.init.normal_(model.nb_ratio)
            model.bias.normal_()
    labels = tuple(f"c{i}" for i in range(classes))
    return TextPredictor(model, Tokenizer(num_words=VOCAB), MAXLEN, labels)


def _eager(predictor: TextPredictor, seqs) -> np.ndarray:
    """What the text predictor computes: Keras-padded ids through the eager model."""
    x = torch.from_numpy(pad_sequences(seqs, maxlen=predictor.maxlen, dtype="int64"))
    with torch.no_grad():
        return predictor.model(x).reshape(len(seqs), -1).numpy()


PADDED = [("flatten", 2, 0), ("glove-flatten", 3, 0), ("bag", 2, 13), ("nbsvm", 2, 13),
          ("nbsvm", 3, 0)]
RECURRENT = [("rnn", 2, {}), ("gru", 3, {"bidirectional": True}),
             ("lstm", 2, {"num_layers": 2})]


@pytest.fixture(scope="module", params=PADDED, ids=lambda p: f"{p[0]}-{p[1]}-{p[2]}")
def padded(request):
    kind, classes, buckets = request.param
    predictor = _classifier(kind, classes, buckets)
    return predictor, from_predictor(predictor)


@pytest.mark.parametrize("runner", [_onnx, _torch_export], ids=["onnx", "torch_export"])
def test_padded_kinds_match_the_eager_model_on_unseen_shapes(padded, runner):
    predictor, g = padded
    run = runner(g)
    for i, (B, T, lengths) in enumerate(BATCHES):
        arrays, seqs = _batch(B, T, lengths, seed=i)
        got = run(arrays)["logits"]
        assert got.shape == (B, predictor.model.config.num_outputs) and got.dtype == np.float32
        np.testing.assert_allclose(got, _eager(predictor, seqs), rtol=0, atol=1e-5)


@pytest.mark.parametrize("kind,classes,extra", RECURRENT, ids=[k for k, _, _ in RECURRENT])
def test_recurrent_kinds_match_the_eager_model_on_unseen_shapes(kind, classes, extra):
    predictor = _classifier(kind, classes, **extra)
    g = from_predictor(predictor)
    for runner in (_onnx, _torch_export):
        run = runner(g)
        for i, (B, T, lengths) in enumerate(BATCHES):
            arrays, seqs = _batch(B, T, lengths, seed=i)
            np.testing.assert_allclose(run(arrays)["logits"], _eager(predictor, seqs),
                                       rtol=0, atol=1e-5)


def test_repad_lays_out_the_prefix_as_pad_sequences_does():
    for padding in ("pre", "post"):
        for truncating in ("pre", "post"):
            for B, T, lengths in BATCHES:
                arrays, seqs = _batch(B, T, lengths, seed=B)
                got, kept = repad(torch.from_numpy(arrays["tokens"]),
                                  torch.from_numpy(arrays["lengths"]), 5,
                                  padding=padding, truncating=truncating)
                want = pad_sequences(seqs, maxlen=5, padding=padding, truncating=truncating,
                                     dtype="int64")
                assert got.tolist() == want.tolist()
                assert kept.tolist() == np.minimum(lengths, 5).tolist()
    empty = repad(torch.zeros(2, 0, dtype=torch.int64), torch.zeros(2, dtype=torch.int64), 3)
    assert empty[0].tolist() == [[0, 0, 0]] * 2


def _numba_sets(seqs, ngrams, buckets):
    ids = np.asarray([t for s in seqs for t in s], np.int64)
    offsets = np.cumsum([0] + [len(s) for s in seqs]).astype(np.int64)
    indptr, indices = _hash_rows(ids, offsets, ngrams, buckets)
    return [set(indices[indptr[i]:indptr[i + 1]].tolist()) for i in range(len(seqs))]


def _tensor_sets(tokens, lengths, ngrams, buckets):
    out = ngram_buckets(torch.as_tensor(tokens), torch.as_tensor(lengths), ngrams, buckets)
    return [set(row.tolist()) - {buckets} for row in out]


@pytest.mark.parametrize("buckets", [1, 7, 1 << 20, (1 << 62) + 12345, (1 << 63) - 25])
def test_the_tensor_hash_equals_the_numba_hash_on_any_int64(buckets):
    rng = np.random.default_rng(buckets % 1000)
    small = rng.integers(0, 50, (4, 9))
    large = rng.integers(0, np.iinfo(np.int64).max, (4, 9), dtype=np.int64, endpoint=True)
    large[0, :3] = [np.iinfo(np.int64).max, 0, np.iinfo(np.int64).max - 1]  # id + 1 wraps
    for tokens in (small, large):
        lengths = np.array([9, 0, 1, 5])
        seqs = [tokens[b, :n].tolist() for b, n in enumerate(lengths)]
        for ngrams in (1, 2, 3):
            assert (_tensor_sets(tokens, lengths, ngrams, buckets)
                    == _numba_sets(seqs, ngrams, buckets))


class _Hash(torch.nn.Module):
    def __init__(self, ngrams, buckets):
        super().__init__()
        self.ngrams, self.buckets = ngrams, buckets

    def forward(self, tokens, lengths):
        return ngram_buckets(tokens, lengths, self.ngrams, self.buckets)


class _Bigrams(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, tokens, lengths):
        return self.model.features(tokens)


def test_onnx_hashes_large_ids_bit_for_bit():
    """onnxruntime's int64 ops wrap and divide as torch's do: same buckets, any id."""
    buckets = 7
    rng = np.random.default_rng(1)
    example = {"tokens": torch.ones(2, 7, dtype=torch.int64),
               "lengths": torch.tensor([7, 3], dtype=torch.int64)}
    dynamic = {"tokens": {0: "batch", 1: "time"}, "lengths": {0: "batch"}}
    tokens = rng.integers(0, np.iinfo(np.int64).max, (5, 12), dtype=np.int64, endpoint=True)
    lengths = np.array([12, 0, 3, 1, 11])
    run = _onnx(Graph(_Hash(3, buckets).eval(), example, ("buckets",), dynamic))
    got = run({"tokens": tokens, "lengths": lengths})["buckets"]
    want = ngram_buckets(torch.from_numpy(tokens), torch.from_numpy(lengths), 3, buckets)
    assert (got == want.numpy()).all()
    # the bag/nbsvm bigram ids overflow int64 for ids this large: both wrap alike
    model = TextClassifier(TextModelConfig(kind="bag", vocab_size=VOCAB,
                                           bigram_buckets=1_000_033)).eval()
    run = _onnx(Graph(_Bigrams(model), example, ("ids",), dynamic))
    assert (run({"tokens": tokens, "lengths": lengths})["ids"]
            == model.features(torch.from_numpy(tokens)).numpy()).all()


@pytest.fixture(scope="module", params=[2, 3], ids=["binary", "3-class"])
def nblr(request):
    classes = request.param
    rng = random.Random(classes)
    texts = [" ".join(rng.choices("abcdefghijklmnop", k=rng.randint(0, 12)))
             for _ in range(60)]
    tokenizer = ngram_tokenizer()
    tokenizer.fit_on_texts(texts)
    config = NgramModelConfig(ngrams=3, buckets=1 << 12, num_classes=classes)
    seqs = tokenizer.texts_to_sequences(texts)
    y = np.arange(len(texts)) % classes
    model = NgramLinear.fit(ngram_rows(seqs, ngrams=3, buckets=config.buckets), y, classes)
    predictor = NgramPredictor(model, tokenizer, config, tuple(f"c{i}" for i in range(classes)))
    return predictor, from_predictor(predictor), len(tokenizer.word_index) + 1


@pytest.mark.parametrize("runner", [_onnx, _torch_export], ids=["onnx", "torch_export"])
def test_nblr_matches_the_numba_model_on_unseen_shapes(nblr, runner):
    predictor, g, vocab = nblr
    run = runner(g)
    for i, (B, T, lengths) in enumerate(BATCHES):
        arrays, seqs = _batch(B, T, lengths, seed=i, high=vocab)
        rows_ = ngram_rows(seqs, ngrams=3, buckets=predictor.config.buckets)
        want = predictor.model.logits(rows_).reshape(B, -1).numpy()
        np.testing.assert_allclose(run(arrays)["logits"], want, rtol=0, atol=1e-5)


# --- feed + graph + rows against TextTask.predict on tiny trained runs -------------------

GOOD, BAD = ["great", "superb", "loved"], ["awful", "boring", "hated"]
FILLER = ["the", "movie", "plot", "was", "and", "it"]


def _texts(seed: int, n: int):
    rng = random.Random(seed)
    rows_ = []
    for i in range(n):
        words = rng.choices(FILLER, k=rng.randint(1, 9)) + rng.choices(
            GOOD if i % 2 else BAD, k=2)
        rng.shuffle(words)
        rows_.append((" ".join(words) + ("!" if i % 3 else ""), "pos" if i % 2 else "neg"))
    return rows_


@pytest.fixture(scope="module")
def texts_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("texts") / "texts.csv"
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        writer.writerows(_texts(0, 40))
    return path


RUNS = {"nblr": {"model": "nblr", "ngrams": 2, "ngram_buckets": 1 << 10},
        "flatten": {"model": "flatten", "maxlen": 5, "num_words": 20, "embedding_dim": 3},
        "nbsvm": {"model": "nbsvm", "maxlen": 8, "num_words": 20, "bigram_buckets": 11},
        "gru": {"model": "gru", "maxlen": 7, "num_words": 20, "embedding_dim": 3, "hidden": 4}}


@pytest.fixture(scope="module", params=sorted(RUNS))
def trained(request, texts_csv, tmp_path_factory):
    folder = tmp_path_factory.mktemp(request.param) / "run"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # few texts per class
        train_run("text", None, folder, overrides={
            "data": {"input": str(texts_csv)}, "model": RUNS[request.param],
            "fit": {"epochs": 2, "batch_size": 8, "lr": 0.05, "optimizer": "adam"}})
    return RunDir(folder)


def test_feed_graph_rows_give_the_rows_of_task_predict(trained, texts_csv, tmp_path):
    given = {"text": ["loved the plot!", "boring and awful", "", "zzz unknown words",
                      " ".join(GOOD * 9)],  # longer than maxlen
             "input": str(texts_csv)}
    g = graph(trained)
    assert g.metadata["task"] == "text"
    run = _onnx(g)
    got = rows(run(feed(given, g.metadata)), g.metadata, given)
    want = TextTask().predict(trained, inputs=given)
    assert len(got) == len(want) == 5 + 40
    for a, b in zip(got, want, strict=True):
        assert {k: v for k, v in a.items() if k not in ("probability", "probabilities")} == \
            {k: v for k, v in b.items() if k not in ("probability", "probabilities")}
        assert a["probability"] == pytest.approx(b["probability"], abs=1e-6)
        assert a["probabilities"] == pytest.approx(b["probabilities"], abs=1e-6)
    assert got[-1]["source"] == want[-1]["source"]


def test_feed_pads_with_zeros_and_refuses_what_predict_refuses(trained):
    g = graph(trained, weights="last")
    arrays = feed({"text": ["the movie", ""]}, g.metadata)
    assert arrays["tokens"].dtype == np.int64 and arrays["lengths"].tolist()[1] == 0
    assert arrays["tokens"].shape == (2, max(1, int(arrays["lengths"].max())))
    with pytest.raises(ConfigError, match="text="):
        feed({}, g.metadata)
    with pytest.raises(ConfigError, match="files"):
        feed({"files": ["a.png"]}, g.metadata)
    with pytest.raises(ConfigError, match="horizon"):
        graph(trained, horizon=3)
