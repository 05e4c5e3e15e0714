"""Checkpoints: one safetensors file holding a whole training state, verified on load.

Layout of the file (tensors, by key prefix, and string metadata)::

    model.<name>     the model's state_dict
    optim.<path>     every tensor of the optimizer's state_dict
    extra.<name>     tensors the caller adds (fit: best weights, shuffle RNG state)
    rng.<name>       torch CPU / CUDA, NumPy and Python RNG states
    __metadata__     format, format_version, step, epoch, config, extra, optimizer
                     (the optimizer state's non-tensor structure, as JSON), rng, sha256

``sha256`` covers every other metadata field and every tensor's name, dtype, shape and
bytes, so one flipped bit anywhere in the file is caught on load. Nothing here ever
unpickles: safetensors stores raw tensor bytes and JSON, so a hostile file cannot run code.

Writes are atomic (``rnnlab._fs.atomic_write_bytes``): a crash or a full disk at any
moment leaves the previous checkpoint as it was. Non-finite tensors are refused before
anything is written, so a NaN can never replace a good checkpoint.

Fault injection (for tests only): every write stage calls
:func:`rnnlab.training.faults.point` with the stage name (``before_write``, ``mid_write``,
``before_replace``, ``after_replace``) and the step; a hook a test installed may kill the
process there. With no hook installed the call costs one test of a global.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.torch
import torch
from torch import nn

from rnnlab._fs import atomic_write_bytes
from rnnlab.errors import CheckpointError
from rnnlab.training import faults

logger = logging.getLogger(__name__)

FORMAT = "rnnlab.checkpoint"
FORMAT_VERSION = 1

_MODEL, _OPTIM, _EXTRA, _RNG = "model.", "optim.", "extra.", "rng."


class NonFiniteError(CheckpointError):
    """A tensor about to be saved holds NaN or Inf; nothing was written."""


@dataclass
class Checkpoint:
    """What ``load_checkpoint`` read, already verified.

    Attributes:
        path: the file.
        step: optimizer steps taken when it was saved.
        epoch: the epoch counter the caller saved.
        config: the run's configuration (JSON).
        extra: the caller's extra JSON state.
        model_state: the model's state_dict (tensors on ``map_location``).
        optimizer_state: the optimizer's state_dict, or None if none was saved.
        tensors: the caller's extra tensors.
        format_version: the file's format version.
    """

    path: Path
    step: int
    epoch: int
    config: dict
    extra: dict
    model_state: dict[str, torch.Tensor]
    optimizer_state: dict | None
    tensors: dict[str, torch.Tensor]
    format_version: int
    rng_tensors: dict[str, torch.Tensor] = field(default_factory=dict, repr=False)
    rng_meta: dict | None = field(default=None, repr=False)

    def restore_rng(self) -> None:
        """Put torch's (CPU, CUDA), NumPy's and Python's global RNGs back as they were saved."""
        if self.rng_meta is None:
            raise CheckpointError(f"checkpoint {self.path} was saved without RNG state")
        try:
            restore_rng_state(self.rng_tensors, self.rng_meta)
        except (KeyError, TypeError, ValueError, RuntimeError) as e:
            raise CheckpointError(f"checkpoint {self.path} has an unusable RNG state: {e}") from e


# --------------------------------------------------------------------------- RNG state


def capture_rng_state() -> tuple[dict[str, torch.Tensor], dict]:
    """The global RNG states as tensors plus a small JSON part (see ``restore_rng_state``)."""
    tensors = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"cuda.{i}"] = state
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    tensors["numpy"] = torch.from_numpy(keys.astype(np.int64))
    version, internal, gauss_next = random.getstate()
    tensors["python"] = torch.tensor(internal, dtype=torch.int64)
    meta = {"numpy": [name, int(pos), int(has_gauss), float(gauss)],
            "python": [version, gauss_next]}
    return tensors, meta


def restore_rng_state(tensors: Mapping[str, torch.Tensor], meta: Mapping) -> None:
    """Restore what ``capture_rng_state`` returned."""
    torch.set_rng_state(tensors["torch"].cpu())
    cuda = sorted((k for k in tensors if k.startswith("cuda.")), key=lambda k: int(k[5:]))
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([tensors[k].cpu() for k in cuda[: torch.cuda.device_count()]])
    name, pos, has_gauss, gauss = meta["numpy"]
    np.random.set_state((name, tensors["numpy"].numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, gauss_next = meta["python"]
    random.setstate((version, tuple(int(v) for v in tensors["python"].tolist()), gauss_next))


# --------------------------------------------------------------------------- optimizer state


def _encode(obj: Any, tensors: dict[str, torch.Tensor], key: str, path: Path) -> Any:
    """Move every tensor of a nested structure into ``tensors``; return exact-JSON rest."""
    if isinstance(obj, torch.Tensor):
        if key in tensors:  # "a.b" as a key and as a path; never silently overwrite
            raise CheckpointError(
                f"cannot save optimizer state in {path}: key {key!r} is ambiguous"
            )
        tensors[key] = obj
        return {"__tensor__": key}
    if isinstance(obj, Mapping):
        items = list(obj.items())
        if all(isinstance(k, str) and not k.startswith("__") for k, _ in items):
            return {k: _encode(v, tensors, f"{key}.{k}", path) for k, v in items}
        # Non-string keys (param ids in "state") keep their type through a pair list.
        return {"__dict__": [[_encode(k, tensors, f"{key}.k{i}", path),
                              _encode(v, tensors, f"{key}.{i}", path)]
                             for i, (k, v) in enumerate(items)]}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, tensors, f"{key}.{i}", path) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_encode(v, tensors, f"{key}.{i}", path) for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    raise CheckpointError(
        f"cannot save {key!r} of type {type(obj).__name__} in checkpoint {path}: "
        "only tensors, numbers, strings, lists, tuples and dicts can be stored"
    )


def _decode(obj: Any, tensors: Mapping[str, torch.Tensor]) -> Any:
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__dict__" in obj:
            return {_decode(k, tensors): _decode(v, tensors) for k, v in obj["__dict__"]}
        if "__tuple__" in obj:
            return tuple(_decode(v, tensors) for v in obj["__tuple__"])
        return {k: _decode(v, tensors) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode(v, tensors) for v in obj]
    return obj


# --------------------------------------------------------------------------- save / load


def _dumps(obj: Any, what: str, path: Path) -> str:
    try:
        return json.dumps(obj)  # key order kept: history rows become CSV columns
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"cannot save {what} in checkpoint {path}: {e}") from e


def _digest(tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, str]) -> str:
    """SHA-256 over the metadata and every tensor's name, dtype, shape and bytes."""
    h = hashlib.sha256()
    h.update(json.dumps({k: v for k, v in metadata.items() if k != "sha256"}, sort_keys=True)
             .encode("utf-8"))
    for name in sorted(tensors):
        t = tensors[name]
        h.update(f"\0{name}\0{t.dtype}\0{list(t.shape)}\0".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().data)
    return h.hexdigest()


def _to_cpu(value: Any, key: str, path: Path) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise CheckpointError(
            f"cannot save {key!r} ({type(value).__name__}) in checkpoint {path}: not a tensor"
        )
    # A copy: tied weights share storage, which safetensors refuses, and we hash the bytes.
    return value.detach().to("cpu", copy=True).contiguous()


def save_checkpoint(
    path: str | os.PathLike,
    model: nn.Module | Mapping[str, torch.Tensor],
    optimizer: torch.optim.Optimizer | None = None,
    *,
    step: int,
    epoch: int,
    config: Mapping[str, Any],
    extra: Mapping[str, Any] | None = None,
    tensors: Mapping[str, torch.Tensor] | None = None,
    rng: bool = True,
) -> Path:
    """Save a training state to one safetensors file, atomically.

    Args:
        path: the file to write (its folder must exist).
        model: an ``nn.Module`` (its ``state_dict`` is saved) or a state dict.
        optimizer: an optimizer whose full state is saved, or None.
        step: optimizer steps taken so far.
        epoch: the caller's epoch counter.
        config: JSON-serialisable run configuration (tuples come back as lists).
        extra: JSON-serialisable extra state (position in the data, history, ...).
        tensors: extra named tensors (kept exact, dtype included).
        rng: also save the global RNG states (torch CPU and CUDA, NumPy, Python).

    Returns:
        ``path`` as a ``Path``.

    Raises:
        CheckpointError: a tensor is NaN or Inf, or something cannot be stored; nothing
            is written and the previous file at ``path`` stays as it was.
        OSError: writing failed (disk full, ...); the previous file stays; names ``path``.

    Example:
        >>> save_checkpoint("last.safetensors", model, opt, step=100, epoch=1,
        ...                 config={"lr": 1e-3})  # doctest: +SKIP
    """
    path = Path(path)
    state = model.state_dict() if isinstance(model, nn.Module) else model
    flat: dict[str, torch.Tensor] = {}
    for k, v in state.items():
        flat[_MODEL + k] = _to_cpu(v, k, path)
    optim_meta = None
    if optimizer is not None:
        optim_tensors: dict[str, torch.Tensor] = {}
        optim_meta = _encode(optimizer.state_dict(), optim_tensors, "optim", path)
        for k, v in optim_tensors.items():
            flat[k] = _to_cpu(v, k, path)
    for k, v in (tensors or {}).items():
        flat[_EXTRA + k] = _to_cpu(v, k, path)
    rng_meta = None
    if rng:
        rng_tensors, rng_meta = capture_rng_state()
        flat.update({_RNG + k: _to_cpu(v, k, path) for k, v in rng_tensors.items()})
    for k, t in flat.items():
        if (t.is_floating_point() or t.is_complex()) and not bool(torch.isfinite(t).all()):
            raise NonFiniteError(
                f"refusing to save checkpoint {path}: tensor {k!r} holds NaN or Inf "
                f"(step {step}); the previous checkpoint is kept"
            )
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "step": str(int(step)),
        "epoch": str(int(epoch)),
        "config": _dumps(dict(config), "config", path),
        "extra": _dumps(dict(extra or {}), "extra", path),
        "optimizer": _dumps(optim_meta, "optimizer state", path),
        "rng": _dumps(rng_meta, "RNG state", path),
    }
    metadata["sha256"] = _digest(flat, metadata)
    try:
        data = safetensors.torch.save(flat, metadata=metadata)
    except Exception as e:
        raise CheckpointError(f"could not serialise checkpoint {path}: {e}") from e
    atomic_write_bytes(path, data, hook=lambda stage: faults.point(stage, step))
    logger.debug("saved checkpoint %s (step %d, %d bytes)", path, step, len(data))
    return path


def _corrupt(path: Path, why: str) -> CheckpointError:
    return CheckpointError(f"checkpoint corrupt: {path} ({why})")


def _read_metadata(data: bytes, path: Path) -> dict[str, str]:
    if len(data) < 8:
        raise _corrupt(path, f"only {len(data)} bytes; truncated")
    n = int.from_bytes(data[:8], "little")
    if n > len(data) - 8:
        raise _corrupt(path, f"header says {n} bytes, file has {len(data) - 8}; truncated")
    try:
        header = json.loads(data[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise _corrupt(path, "header is not valid JSON") from e
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or "sha256" not in meta:
        raise _corrupt(path, "no rnnlab checkpoint metadata; not an rnnlab checkpoint or damaged")
    return meta


def load_checkpoint(
    path: str | os.PathLike,
    model: nn.Module | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    map_location: str | torch.device = "cpu",
) -> Checkpoint:
    """Read and verify a checkpoint; optionally load it into a model and an optimizer.

    Args:
        path: a file written by ``save_checkpoint``.
        model: if given, its weights are replaced (strictly: every key must match).
        optimizer: if given, its state is replaced.
        map_location: the device the returned tensors are put on.

    Returns:
        The verified ``Checkpoint``.

    Raises:
        CheckpointError: the file is missing, truncated, altered ("checkpoint corrupt:
            PATH ..."), from a newer format, or does not fit the model or optimizer.

    Example:
        >>> ckpt = load_checkpoint("runs/x/last.safetensors", model)  # doctest: +SKIP
        >>> ckpt.step                                                  # doctest: +SKIP
        1200
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError as e:
        raise CheckpointError(f"checkpoint not found: {path}") from e
    except OSError as e:
        raise CheckpointError(f"cannot read checkpoint {path}: {e.strerror or e}") from e
    meta = _read_metadata(data, path)
    try:
        flat = safetensors.torch.load(data)
    except Exception as e:  # safetensors raises its own types; users get ours
        raise _corrupt(path, "tensor data unreadable; truncated or damaged") from e
    if _digest(flat, meta) != meta["sha256"]:
        raise _corrupt(path, "SHA-256 of its contents does not match the one recorded in it")
    try:
        version = int(meta["format_version"])
        step, epoch = int(meta["step"]), int(meta["epoch"])
        config, extra = json.loads(meta["config"]), json.loads(meta["extra"])
        optim_meta, rng_meta = json.loads(meta["optimizer"]), json.loads(meta["rng"])
    except (KeyError, TypeError, ValueError) as e:
        raise _corrupt(path, f"metadata field unreadable: {e}") from e
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint {path} has format version {version}; this rnnlab reads up to "
            f"{FORMAT_VERSION} (upgrade rnnlab)"
        )

    def part(prefix: str, device) -> dict[str, torch.Tensor]:
        return {k[len(prefix):]: v.to(device) for k, v in flat.items() if k.startswith(prefix)}

    ckpt = Checkpoint(
        path=path,
        step=step,
        epoch=epoch,
        config=config,
        extra=extra,
        model_state=part(_MODEL, map_location),
        optimizer_state=None,
        tensors=part(_EXTRA, map_location),
        format_version=version,
        rng_tensors=part(_RNG, "cpu"),
        rng_meta=rng_meta,
    )
    if optim_meta is not None:
        optim_tensors = {k: v.to(map_location) for k, v in flat.items() if k.startswith(_OPTIM)}
        try:
            ckpt.optimizer_state = _decode(optim_meta, optim_tensors)
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(f"checkpoint {path} has a malformed optimizer state: {e}") from e
    if model is not None:
        try:
            model.load_state_dict(ckpt.model_state)
        except RuntimeError as e:
            raise CheckpointError(f"checkpoint {path} does not fit this model: {e}") from e
    if optimizer is not None:
        if ckpt.optimizer_state is None:
            raise CheckpointError(f"checkpoint {path} holds no optimizer state")
        try:
            optimizer.load_state_dict(ckpt.optimizer_state)
        except (ValueError, KeyError, IndexError, TypeError, AttributeError, RuntimeError) as e:
            raise CheckpointError(f"checkpoint {path} does not fit this optimizer: {e}") from e
    return ckpt
