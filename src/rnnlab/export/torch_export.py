"""Write a :class:`~rnnlab.export.graph.Graph` as a ``torch.export`` program (``.pt2``).

``torch.export.export`` traces the module with B and T symbolic (each ``scan`` of
:mod:`rnnlab.nn.scan` stays one loop); ``torch.export.save`` writes the program with the
metadata inside (extra file ``rnnlab.json``) and beside it (``FILE.pt2.json``). Load it
with ``torch.export.load(FILE).module()`` and call it with the graph's inputs in order.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor, nn

from rnnlab._fs import atomic_write_bytes, write_json_atomic
from rnnlab.export.graph import Graph
from rnnlab.export.onnx import METADATA_KEY, export_dims, fresh_trace, quiet_exporter, sidecar

__all__ = ["export_program", "load_program", "write_program"]

log = logging.getLogger(__name__)


def export_program(module: nn.Module, inputs: Mapping[str, Tensor],
                   dynamic: Mapping[str, Mapping[int, str]]) -> torch.export.ExportedProgram:
    """Trace ``module`` with ``torch.export``, B and T (the named axes) dynamic.

    Args:
        module: ``forward(*inputs.values())``.
        inputs: example tensors by input name.
        dynamic: per input name, its dynamic axes (``{0: "batch", 1: "time"}``).

    Returns:
        The ``ExportedProgram``; ``program.module()(*inputs)`` runs it.
    """
    module = module.eval()
    fresh_trace()
    with quiet_exporter(), torch.no_grad():
        return torch.export.export(module, tuple(inputs.values()),
                                   dynamic_shapes=export_dims(inputs, dynamic))


def write_program(graph: Graph, path: str | Path) -> Path:
    """Write ``graph`` as a ``torch.export`` program to ``path`` and its metadata beside.

    Returns:
        ``path`` as a Path.

    Example:
        >>> write_program(rnnlab.export.classify.graph(RunDir("runs/g")), "g.pt2")  # doctest: +SKIP
    """
    path = Path(path)
    metadata = graph.file_metadata()
    program = export_program(graph.module, graph.inputs, graph.dynamic)
    buffer = io.BytesIO()
    with quiet_exporter():
        torch.export.save(program, buffer,
                          extra_files={f"{METADATA_KEY}.json": json.dumps(metadata)})
    atomic_write_bytes(path, buffer.getvalue())
    write_json_atomic(sidecar(path), metadata)
    log.debug("wrote %s and %s", path, sidecar(path).name)
    return path


def load_program(path: str | Path) -> tuple[nn.Module, dict]:
    """``(module, metadata)`` of a ``.pt2`` file written by :func:`write_program`."""
    extra = {f"{METADATA_KEY}.json": ""}
    with quiet_exporter():
        program = torch.export.load(str(path), extra_files=extra)
    return program.module(), json.loads(extra[f"{METADATA_KEY}.json"] or "{}")
