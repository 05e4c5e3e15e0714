"""What an exported model is before it is written: a traceable module and its contract.

Every task's exporter (``export/classify.py``, ``export/text.py``, ``export/forecast.py``)
turns a run folder into a :class:`Graph`. The writers (ONNX, torch.export) and the
runtime that serves ``rnnlab predict FILE.onnx`` know nothing about tasks beyond it.

The contract of every graph:

- ``inputs`` (B, T, F) float32 or ``tokens`` (B, T) int64, and ``lengths`` (B,) int64;
  ``inputs[b, :lengths[b]]`` is the sequence, valid steps first, and later positions are
  ignored whatever their value; B and T are dynamic, and a length of 0 is allowed.
- Outputs ``logits`` (B, C) for classifiers; ``forecast`` (B, H) for forecasters, with
  ``lo_L`` / ``hi_L`` (B, H) per interval level L where the model has intervals.
- ``metadata`` is JSON: what a caller needs beside the graph (task, label names, scaler,
  tokenizer or vocabulary, horizon, ...). It travels as ONNX metadata and as a JSON file
  beside the exported file.

The protocol of a task's exporter module (``export/classify.py``, ``export/forecast.py``,
``export/text.py``); ``rnnlab.export.runtime`` picks the module by ``metadata["task"]``
(``"classify"``, ``"text"``, ``"forecast"``)::

    def graph(run: RunDir, *, weights: str = "best", **options) -> Graph
        # the run folder's model as a Graph; options are export options (e.g. horizon)
    def feed(inputs: Mapping[str, Any], metadata: Mapping) -> dict[str, np.ndarray]
        # ``rnnlab predict`` inputs (the same keyword arguments ``Task.predict`` takes as
        # ``inputs``) -> the graph's input arrays by name, preprocessing included
    def rows(outputs: Mapping[str, np.ndarray], metadata: Mapping, inputs) -> list[dict]
        # the graph's outputs by name -> the same rows ``Task.predict`` gives for ``inputs``
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from torch import Tensor, nn

# The names every exported file uses, whatever the task.
BATCH, TIME = "batch", "time"


@dataclass(frozen=True)
class Graph:
    """A model ready to trace, with example inputs and the names of its ends.

    Args:
        module: ``forward(*inputs)`` in the order of ``inputs``, returning one tensor or a
            tuple of tensors in the order of ``outputs``.
        inputs: example tensors by input name, e.g. ``{"inputs": (2, 5, 3) float32,
            "lengths": (2,) int64}``; traced with them, then run on other shapes.
        outputs: the output names, e.g. ``("logits",)`` or ``("forecast", "lo_80", "hi_80")``.
        dynamic: per input name, its dynamic axes, e.g. ``{"inputs": {0: "batch", 1: "time"},
            "lengths": {0: "batch"}}``.
        metadata: JSON-able facts for the caller (always holds ``"task"``).
    """

    module: nn.Module
    inputs: Mapping[str, Tensor]
    outputs: tuple[str, ...]
    dynamic: Mapping[str, Mapping[int, str]]
    metadata: Mapping[str, object] = field(default_factory=dict)

    def file_metadata(self) -> dict:
        """What an exported file carries: ``metadata`` with the input and output names."""
        return {**self.metadata, "inputs": list(self.inputs), "outputs": list(self.outputs)}
