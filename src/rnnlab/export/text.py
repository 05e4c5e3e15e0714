"""Export the text task's models: every kind, as a graph over token ids and lengths.

A text run's model reads token ids that the tokenizer made; the tokenizer stays outside
the graph (in :func:`feed`, from the JSON the metadata carries), the rest is inside::

    texts --feed--> tokens (B, T) int64, lengths (B,) --graph--> logits (B, K) --rows--> rows

``tokens[b, :lengths[b]]`` is text b's ids; later positions are ignored whatever their
value. K is 1 for two classes (a sigmoid logit, as the eager models give) and C for more.
Inside the graph each kind first sees its input as in training:

    kind                      what the graph does with (tokens, lengths)
    flatten, glove-flatten,   re-pad the valid prefix to maxlen exactly as ``pad_sequences``
    bag, nbsvm                does (pre-truncate, pre-pad), then the eager forward
    rnn, lstm, gru            keep the last maxlen tokens, left-aligned, and run the layers
                              through the traceable scan (``rnnlab.nn.scan``)
    nblr                      hash the 1..n-grams with int64 tensor ops that equal the numba
                              hash bit for bit, keep each bucket once, sum the weights

Re-padding a text of 3 ids [a b c] to maxlen 5 (pre) and of 7 ids to maxlen 5 (pre)::

    tokens [a b c ? ? ? ?], lengths 3  ->  [0 0 a b c]
    tokens [a b c d e f g], lengths 7  ->  [c d e f g]

Example:
    >>> g = graph(RunDir("runs/imdb"))                                  # doctest: +SKIP
    >>> arrays = feed({"text": ["loved it", "dull"]}, g.metadata)       # doctest: +SKIP
    >>> rows(run_onnx(arrays), g.metadata, {"text": ["loved it", "dull"]})  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from rnnlab.errors import ConfigError, ShapeError
from rnnlab.export.graph import BATCH, TIME, Graph
from rnnlab.models.text import TextClassifier
from rnnlab.models.text_nbsvm import NgramLinear
from rnnlab.tasks.scores import prediction_rows
from rnnlab.tasks.text import TextPredictor, TextTask, predict_texts
from rnnlab.tasks.text_ngram import NGRAM_KINDS, NgramPredictor, prepare, warn_unknown
from rnnlab.text import Tokenizer
from rnnlab.training.runfolder import RunDir

__all__ = ["TASK", "feed", "from_predictor", "graph", "ngram_buckets", "repad", "rows"]

TASK = "text"
_RECURRENT = ("rnn", "lstm", "gru")
# The numba hash's uint64 constants, as the int64 with the same 64 bits: int64 products
# and sums wrap modulo 2**64 exactly as uint64 ones do, so only shifts, comparisons and
# the modulo need the unsigned reading (see ``_shift_right`` and ``_unsigned_mod``).
_MIX = 0x9E3779B97F4A7C15 - (1 << 64)
_LOW63 = (1 << 63) - 1


def repad(tokens: Tensor, lengths: Tensor, maxlen: int, *, padding: str = "pre",
          truncating: str = "pre") -> tuple[Tensor, Tensor]:
    """The valid prefix of each row laid out as ``pad_sequences`` lays it, with tensor ops.

    Args:
        tokens: (B, T) int64; ``tokens[b, :lengths[b]]`` is row b, the rest is ignored.
        lengths: (B,) int64, clamped to [0, T].
        maxlen: the width of the result.
        padding: "pre" or "post": where the zeros go.
        truncating: "pre" (keep the last maxlen ids) or "post" (the first maxlen).

    Returns:
        ``(padded (B, maxlen) int64, kept (B,) int64 = min(lengths, maxlen))``.

    Example:
        >>> repad(torch.tensor([[5, 6, 7, 9]]), torch.tensor([3]), 2)[0].tolist()
        [[6, 7]]
    """
    B, T = tokens.shape[0], tokens.shape[1]
    lengths = lengths.clamp(min=0).clamp(max=T)
    kept = lengths.clamp(max=maxlen)  # (B,)
    start = lengths - kept if truncating == "pre" else torch.zeros_like(kept)
    j = torch.arange(maxlen, device=tokens.device)[None, :]  # (1, L)
    offset = (maxlen - kept)[:, None] if padding == "pre" else torch.zeros_like(kept)[:, None]
    valid = (j >= offset) & (j < offset + kept[:, None])  # (B, L)
    index = torch.where(valid, start[:, None] + j - offset, torch.zeros_like(j))
    # one zero column, so that index 0 exists even when T is 0
    padded = torch.cat([tokens, tokens.new_zeros(B, 1)], dim=1)  # (B, T + 1)
    picked = padded.gather(1, index)  # (B, L)
    return torch.where(valid, picked, torch.zeros_like(picked)), kept


def _shift_right(h: Tensor, bits: int) -> Tensor:
    """``h >> bits`` of the uint64 that int64 ``h`` holds (ONNX shifts only unsigned ints)."""
    top = (h < 0).to(h.dtype) * (1 << (63 - bits))  # the sign bit, shifted
    # ``//`` becomes ONNX's integer Div; torch.div(rounding_mode=...) goes through float
    # in the exporter and loses the low bits of large values.
    return (h & _LOW63) // (1 << bits) + top


def _unsigned_mod(h: Tensor, m: int) -> Tensor:
    """``h % m`` of the uint64 that int64 ``h`` holds; every dividend here is >= 0."""
    top = (h < 0).to(h.dtype) * ((1 << 63) % m)  # 2**63 mod m, for the sign bit
    return ((h & _LOW63) % m + top) % m


def ngram_buckets(tokens: Tensor, lengths: Tensor, ngrams: int, buckets: int) -> Tensor:
    """The hashed 1..``ngrams``-grams of each row, as ``text_ngrams.ngram_rows`` hashes them.

    The n-gram starting at position s of order n + 1 gets the numba kernel's hash
    ``h_{n+1} = mix((h_n ^ (id[s + n] + 1)) * MIX + n + 1)``, ``h_0 = 0``, reduced modulo
    ``buckets``; n-grams that reach past ``lengths[b]`` get ``buckets`` (no bucket).

    Args:
        tokens: (B, T) int64 ids; any int64 value hashes as numba's does.
        lengths: (B,) int64 valid ids per row.
        ngrams: the longest n-gram.
        buckets: the hash space.

    Returns:
        (B, ngrams * T) int64 in [0, buckets]: order 1 for every s, then order 2, ...

    Example:
        >>> ngram_buckets(torch.tensor([[5, 6, 7]]), torch.tensor([3]), 2, 1 << 20).shape
        torch.Size([1, 6])
    """
    B, T = tokens.shape[0], tokens.shape[1]
    lengths = lengths.clamp(min=0).clamp(max=T)
    padded = torch.cat([tokens, tokens.new_zeros(B, ngrams)], dim=1)  # (B, T + ngrams)
    position = torch.arange(T, device=tokens.device)[None, :]  # (1, T)
    h = torch.zeros_like(tokens)
    out = []
    for n in range(ngrams):
        ids = padded.narrow(1, n, T)  # (B, T): the (n + 1)-th id of each n-gram
        h = torch.bitwise_xor(h, ids + 1) * _MIX + (n + 1)
        h = torch.bitwise_xor(h, _shift_right(h, 29))
        valid = position + n < lengths[:, None]
        out.append(torch.where(valid, _unsigned_mod(h, buckets), torch.full_like(h, buckets)))
    return torch.cat(out, dim=1)


class _PaddedText(nn.Module):
    """The flatten, bag and nbsvm kinds: re-pad as in training, then the eager forward."""

    def __init__(self, model: TextClassifier):
        super().__init__()
        self.model = model

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        padded, _ = repad(tokens, lengths, self.model.config.maxlen)  # (B, maxlen)
        logits = self.model(padded)  # (B,) for two classes, else (B, C)
        return logits[:, None] if logits.dim() == 1 else logits  # (B, K)


class _RecurrentText(nn.Module):
    """The rnn, lstm and gru kinds: the last maxlen ids, left-aligned, through the scan."""

    def __init__(self, model: TextClassifier):
        super().__init__()
        clf = model.rnn
        if clf.front is not None or clf.pool is not None:  # text models use neither
            raise ConfigError("a text model with a convolutional front end or pooling "
                              "cannot be exported")
        self.embedding, self.rnn, self.maxlen = model.embedding, clf, model.config.maxlen

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        from rnnlab.nn.scan import bidirectional_scan_rnn, scan_rnn

        # align_left of the pre-padded text: the same ids, left-aligned, zeros after
        aligned, kept = repad(tokens, lengths, self.maxlen, padding="post")  # (B, L)
        x = self.embedding(aligned)  # (B, L, E); padding rows are zero
        clf = self.rnn
        _, final = clf.recurrent(x, kept, unroll=scan_rnn,
                                 unroll_bidirectional=bidirectional_scan_rnn)
        return clf.head(clf.dropout(final))  # (B, K)



class _NgramText(nn.Module):
    """nblr: hashed n-gram sets and the linear model, as dense tensor ops.

    The fitted weights become one dense (buckets + 1, K) table whose last row (no bucket)
    is 0; each row's distinct buckets are summed in float64, as ``row_dot`` sums them.
    """

    def __init__(self, model: NgramLinear, ngrams: int):
        super().__init__()
        self.ngrams, self.buckets = ngrams, model.buckets
        table = torch.zeros(model.buckets + 1, model.weight.shape[1])
        table[model.columns.long()] = model.weight.float()
        self.register_buffer("table", table)
        self.register_buffer("bias", model.bias.double())

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        ids = ngram_buckets(tokens, lengths, self.ngrams, self.buckets)  # (B, nT)
        ids = ids.sort(dim=1).values
        repeated = torch.cat([torch.zeros_like(ids[:, :1], dtype=torch.bool),
                              ids[:, 1:] == ids[:, :-1]], dim=1)  # a bucket counts once
        ids = torch.where(repeated, torch.full_like(ids, self.buckets), ids)
        z = nn.functional.embedding(ids, self.table).double().sum(1) + self.bias  # (B, K)
        return z.float()


def from_predictor(predictor: TextPredictor | NgramPredictor, *,
                   text_column: str = "text") -> Graph:
    """The graph of a loaded text predictor (what ``TextTask.load`` returns).

    Args:
        predictor: a ``TextPredictor`` (every ``TextClassifier`` kind) or an
            ``NgramPredictor`` (nblr).
        text_column: the CSV column / JSON key ``feed`` reads texts from.

    Returns:
        A :class:`Graph` over ``tokens`` (B, T) int64 and ``lengths`` (B,) int64 giving
        ``logits`` (B, K). Its metadata: ``task`` ("text"), ``kind``, ``classes`` (label
        names in logit order), ``maxlen`` (None for nblr), ``num_outputs`` (K),
        ``text_column`` and ``tokenizer`` (``Tokenizer.to_json()``): all :func:`feed`
        and :func:`rows` need.

    Example:
        >>> g = from_predictor(TextTask().load(RunDir("runs/imdb")))    # doctest: +SKIP
        >>> g.outputs, sorted(g.inputs)                                  # doctest: +SKIP
        (('logits',), ['lengths', 'tokens'])
    """
    if isinstance(predictor, NgramPredictor):
        kind, maxlen = predictor.config.kind, None
        module: nn.Module = _NgramText(predictor.model, predictor.config.ngrams)
        outputs = predictor.config.num_outputs
    else:
        config = predictor.model.config
        kind, maxlen, outputs = config.kind, config.maxlen, config.num_outputs
        module = (_RecurrentText(predictor.model) if kind in _RECURRENT
                  else _PaddedText(predictor.model))
    T = 7 if maxlen != 7 else 9  # an example T that no constant of the graph equals
    example = {"tokens": torch.ones(2, T, dtype=torch.int64),
               "lengths": torch.tensor([T, 3], dtype=torch.int64)}
    metadata = {"task": TASK, "kind": kind, "classes": list(predictor.classes),
                "maxlen": maxlen, "num_outputs": outputs, "text_column": text_column,
                "tokenizer": predictor.tokenizer.to_json()}
    return Graph(module=module.eval(), inputs=example, outputs=("logits",),
                 dynamic={"tokens": {0: BATCH, 1: TIME}, "lengths": {0: BATCH}},
                 metadata=metadata)


def graph(run: RunDir, *, weights: str = "best", **options) -> Graph:
    """The text run's model as a :class:`Graph` (every kind, nblr included).

    Args:
        run: a text run folder.
        weights: "best" or "last" checkpoint.
        options: none for text models (any given is refused).

    Returns:
        The graph; see :func:`from_predictor`.

    Example:
        >>> write_onnx(graph(RunDir("runs/imdb")), "imdb.onnx")         # doctest: +SKIP
    """
    if options:
        raise ConfigError(f"text models take no export options; got {sorted(options)}")
    run = RunDir(run) if not isinstance(run, RunDir) else run
    task = TextTask()
    predictor = task.load(run, device="cpu", weights=weights)
    column = task.config_from_saved(run.load_config(), where=str(run.config)).data.text_column
    return from_predictor(predictor, text_column=column)


def _texts_and_keys(inputs: Mapping[str, Any], metadata: Mapping) -> tuple[list, list]:
    """The texts ``TextTask.predict`` would classify for ``inputs``, and their row keys."""
    return predict_texts(inputs, metadata.get("text_column", "text"))


def feed(inputs: Mapping[str, Any], metadata: Mapping) -> dict[str, np.ndarray]:
    """``rnnlab predict`` inputs -> the graph's ``tokens`` and ``lengths``.

    Args:
        inputs: ``{"text": [...]}`` and/or ``{"input": PATH}``, as ``TextTask.predict``.
        metadata: the exported file's metadata (tokenizer JSON, kind, text column).

    Returns:
        ``{"tokens": (N, T) int64 (each text's ids first, zeros after), "lengths": (N,)}``,
        with T the longest text (at least 1); nothing is truncated here.
    """
    texts, _ = _texts_and_keys(inputs, metadata)
    if metadata.get("kind") in NGRAM_KINDS:
        texts = prepare(texts)  # "!" and "?" as words, as nblr was fitted
    seqs = Tokenizer.from_json(metadata["tokenizer"]).texts_to_sequences(texts)
    lengths = np.fromiter(map(len, seqs), np.int64, len(seqs))
    warn_unknown(lengths)
    tokens = np.zeros((len(seqs), max(1, int(lengths.max()))), np.int64)
    for i, seq in enumerate(seqs):
        tokens[i, :len(seq)] = seq
    return {"tokens": tokens, "lengths": lengths}


def rows(outputs: Mapping[str, np.ndarray], metadata: Mapping, inputs) -> list[dict]:
    """The graph's ``logits`` -> the rows ``TextTask.predict`` gives for ``inputs``.

    Args:
        outputs: ``{"logits": (N, K)}``, K = 1 (sigmoid) or C (softmax).
        metadata: the exported file's metadata (classes, text column).
        inputs: the inputs given to :func:`feed` (for each row's index and source).

    Returns:
        ``[{"index", "label", "probability", "probabilities"[, "source"]}, ...]``.
    """
    _, keys = _texts_and_keys(inputs, metadata)
    logits = torch.as_tensor(np.asarray(outputs["logits"], np.float32))
    if logits.dim() != 2 or logits.shape[0] != len(keys):
        raise ShapeError(f"logits of shape {tuple(logits.shape)} for {len(keys)} texts")
    if logits.shape[1] == 1:  # Scoring.proba_of's two columns from one logit
        p = torch.sigmoid(logits[:, 0])
        proba = torch.stack([1 - p, p], dim=1).numpy()
    else:
        proba = torch.softmax(logits, dim=-1).numpy()
    return prediction_rows(proba, metadata["classes"], keys)
