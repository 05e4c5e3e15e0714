"""Write a :class:`~rnnlab.export.graph.Graph` as an ONNX file, its metadata inside and beside.

The graph goes through PyTorch's dynamo-based ONNX exporter (``torch.onnx.export(...,
dynamo=True)``): ``torch.export`` traces the module, with B and T symbolic, and each
``scan`` of :mod:`rnnlab.nn.scan` becomes an ONNX loop. The metadata travels twice: as the
model's ``metadata_props`` (key ``"rnnlab"``, one JSON string) and as ``FILE.onnx.json``
beside the file, so that a caller without the ``onnx`` package can read it.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path

import torch
from torch import Tensor, nn

from rnnlab._fs import atomic_write_bytes, write_json_atomic
from rnnlab.errors import DataError, MissingDependencyError
from rnnlab.export.graph import Graph

__all__ = ["METADATA_KEY", "OPSET", "export_dims", "onnx_bytes", "read_metadata",
           "sidecar", "write_onnx"]

log = logging.getLogger(__name__)

METADATA_KEY = "rnnlab"
OPSET = 18


def export_dims(inputs: Mapping[str, Tensor], dynamic: Mapping[str, Mapping[int, str]]):
    """``torch.export`` dynamic shapes, in input order, one ``Dim`` per axis name.

    ``min=0``: a saved program then takes one sequence (B = 1) and empty ones (T = 0).
    """
    dims: dict[str, torch.export.Dim] = {}
    shapes = []
    for name in inputs:
        axes = dynamic.get(name, {})
        shapes.append({axis: dims.setdefault(label, torch.export.Dim(label, min=0))
                       for axis, label in axes.items()} or None)
    return tuple(shapes)


@contextlib.contextmanager
def quiet_exporter() -> Iterator[None]:
    """Keep the exporters' progress lines, log chatter and deprecation notes out of the
    user's output (onnxscript's optimiser logs every rewrite at INFO)."""
    before = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(before)


def fresh_trace() -> None:
    """Forget dynamo's caches before a trace (``torch._dynamo.reset()``).

    Each ``scan`` body is traced by dynamo, whose cache is keyed by the body's code: the
    guards of an earlier trace (say T == 6 of a fixed window) would be checked against
    this trace's symbolic T and pin it. The cost: functions compiled by ``torch.compile``
    elsewhere in the process compile again on their next call.
    """
    torch._dynamo.reset()


def onnx_bytes(module: nn.Module, inputs: Mapping[str, Tensor], outputs: tuple[str, ...],
               dynamic: Mapping[str, Mapping[int, str]], metadata: Mapping | None = None
               ) -> bytes:
    """Export ``module`` to a serialised ONNX model.

    Args:
        module: ``forward(*inputs.values())`` -> one tensor or a tuple of tensors.
        inputs: example tensors by input name (the file's input names).
        outputs: the file's output names, in the module's order.
        dynamic: per input name, its dynamic axes by axis name (``{0: "batch"}``).
        metadata: JSON-able facts stored under ``metadata_props["rnnlab"]``.

    Returns:
        The ONNX model's bytes.
    """
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError as err:
        raise MissingDependencyError("exporting to ONNX needs the onnx extra: pip install "
                              f"'rnnlab[onnx]' ({err})") from err
    module = module.eval()
    fresh_trace()
    with quiet_exporter(), torch.no_grad():
        program = torch.onnx.export(
            module, tuple(inputs.values()), dynamo=True, input_names=list(inputs),
            output_names=list(outputs), dynamic_shapes=export_dims(inputs, dynamic),
            opset_version=OPSET, verbose=False, optimize=True)
    proto = program.model_proto
    if metadata is not None:
        entry = proto.metadata_props.add()
        entry.key, entry.value = METADATA_KEY, json.dumps(dict(metadata), sort_keys=True)
    return proto.SerializeToString()


def sidecar(path: str | Path) -> Path:
    """The JSON file beside an exported file: ``FILE.onnx`` -> ``FILE.onnx.json``."""
    path = Path(path)
    return path.with_name(path.name + ".json")


def write_onnx(graph: Graph, path: str | Path) -> Path:
    """Write ``graph`` to ``path`` (ONNX) and its metadata to ``path + ".json"``.

    Args:
        graph: the task exporter's graph.
        path: the ``.onnx`` file to write (replaced atomically).

    Returns:
        ``path`` as a Path.

    Example:
        >>> write_onnx(rnnlab.export.classify.graph(RunDir("runs/g")), "g.onnx")  # doctest: +SKIP
    """
    path = Path(path)
    metadata = graph.file_metadata()
    blob = onnx_bytes(graph.module, graph.inputs, graph.outputs, graph.dynamic, metadata)
    atomic_write_bytes(path, blob)
    write_json_atomic(sidecar(path), metadata)
    log.debug("wrote %s (%d bytes) and %s", path, len(blob), sidecar(path).name)
    return path


def read_metadata(path: str | Path) -> dict:
    """The metadata of an exported file: the ONNX file's own, else its ``FILE.json``.

    The file's own copy wins: a sidecar left over from another export cannot mislead.

    Args:
        path: an ``.onnx`` file written by :func:`write_onnx`.

    Returns:
        The metadata dict (task, labels, scaler, ...).

    Raises:
        DataError: neither holds rnnlab's metadata.
    """
    path = Path(path)
    try:
        import onnx
    except ImportError:
        onnx = None
    if onnx is not None and path.is_file():
        props = {p.key: p.value for p in onnx.load(str(path), load_external_data=False)
                 .metadata_props}
        if METADATA_KEY in props:
            return json.loads(props[METADATA_KEY])
    if sidecar(path).is_file():
        return json.loads(sidecar(path).read_text(encoding="utf-8"))
    raise DataError(f"{path} carries no rnnlab metadata (neither {sidecar(path).name} "
                          f"nor ONNX metadata_props[{METADATA_KEY!r}]); export it with "
                          "rnnlab export")
