"""Checkpoints: exact round trips, corruption detection, failed saves, no unpickling."""

from __future__ import annotations

import contextlib
import errno
import json
import pickle
import random
import re
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from rnnlab import checkpoint as ck
from rnnlab.checkpoint import (
    FORMAT_VERSION,
    CheckpointError,
    NonFiniteError,
    capture_rng_state,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)


def _trained(seed: int = 0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    x, y = torch.randn(8, 3), torch.randn(8, 2)
    for _ in range(3):
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()
    return model, opt, (x, y)


def _step(model, opt, batch):
    opt.zero_grad()
    nn.functional.mse_loss(model(batch[0]), batch[1]).backward()
    opt.step()


def _path_re(path) -> str:
    return re.escape(str(path))


def test_round_trip_restores_model_and_optimizer_exactly(tmp_path):
    model, opt, batch = _trained()
    path = save_checkpoint(tmp_path / "c.safetensors", model, opt, step=3, epoch=1,
                           config={"lr": 0.01, "units": [5]}, extra={"note": "x"})
    model2, opt2, _ = _trained(seed=1)  # different weights and moments
    got = load_checkpoint(path, model2, opt2)
    assert (got.step, got.epoch, got.config, got.extra) == (3, 1, {"lr": 0.01, "units": [5]},
                                                            {"note": "x"})
    assert got.format_version == FORMAT_VERSION
    assert got.optimizer_state["param_groups"][0]["betas"] == (0.9, 0.999)  # tuple kept
    # One more step on both must agree bit for bit: weights AND Adam's moments came back.
    _step(model, opt, batch)
    _step(model2, opt2, batch)
    for a, b in zip(model.state_dict().values(), model2.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_sgd_momentum_none_buffers_and_tied_weights(tmp_path):
    emb = nn.Embedding(4, 3)
    head = nn.Linear(3, 4, bias=False)
    head.weight = emb.weight  # tied: safetensors refuses shared storage, we copy
    model = nn.Sequential(emb, head)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    save_checkpoint(tmp_path / "t.safetensors", model, opt, step=0, epoch=0, config={})
    got = load_checkpoint(tmp_path / "t.safetensors", model, opt)
    assert torch.equal(got.model_state["0.weight"], emb.weight.detach())


_DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64,
           torch.int32, torch.int8, torch.uint8, torch.bool]
_names = st.text("abcdefgh_.0123", min_size=1, max_size=8)
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-2**53, 2**53)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                  max_size=3),
    max_leaves=10,
)


@st.composite
def _tensors(draw):
    out = {}
    for name in draw(st.lists(_names, max_size=5, unique=True)):
        dtype = draw(st.sampled_from(_DTYPES))
        shape = draw(st.lists(st.integers(0, 3), max_size=3))
        seed = draw(st.integers(0, 2**31))
        g = torch.Generator().manual_seed(seed)
        if dtype.is_floating_point:
            t = (torch.randn(shape, generator=g, dtype=torch.float64) * 100).to(dtype)
        elif dtype == torch.bool:
            t = torch.randint(0, 2, shape, generator=g).bool()
        else:
            info = torch.iinfo(dtype)
            t = torch.randint(info.min, info.max, shape, generator=g, dtype=torch.int64).to(dtype)
        out[name] = t
    return out


@given(state=_tensors(), extra_t=_tensors(), config=st.dictionaries(st.text(max_size=6), _json),
       extra=st.dictionaries(st.text(max_size=6), _json), step=st.integers(0, 2**40))
def test_round_trip_is_exact_for_random_tensors_and_metadata(tmp_path_factory, state, extra_t,
                                                            config, extra, step):
    path = tmp_path_factory.mktemp("rt") / "c.safetensors"
    save_checkpoint(path, state, step=step, epoch=step % 7, config=config, extra=extra,
                    tensors=extra_t)
    got = load_checkpoint(path)
    assert (got.step, got.epoch, got.config, got.extra) == (step, step % 7, config, extra)
    for want, have in ((state, got.model_state), (extra_t, got.tensors)):
        assert set(have) == set(want)
        for k, t in want.items():
            assert have[k].dtype == t.dtype and have[k].shape == t.shape
            assert torch.equal(have[k], t)


def test_rng_state_round_trip(tmp_path):
    torch.manual_seed(5)
    np.random.seed(5)
    random.seed(5)
    tensors, meta = capture_rng_state()
    first = (torch.rand(3), np.random.rand(3), random.random())
    restore_rng_state(tensors, meta)
    second = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(first[0], second[0]) and np.array_equal(first[1], second[1])
    assert first[2] == second[2]
    # ... and through a file.
    restore_rng_state(tensors, meta)
    save_checkpoint(tmp_path / "r.safetensors", {}, step=0, epoch=0, config={})
    torch.rand(10)
    np.random.rand(10)
    load_checkpoint(tmp_path / "r.safetensors").restore_rng()
    assert torch.equal(torch.rand(3), first[0]) and np.array_equal(np.random.rand(3), first[1])


# --------------------------------------------------------------------------- corruption


@pytest.fixture
def saved(tmp_path):
    model, opt, _ = _trained()
    path = save_checkpoint(tmp_path / "c.safetensors", model, opt, step=3, epoch=1,
                           config={"lr": 0.01})
    return path, path.read_bytes()


def test_one_flipped_bit_is_detected_in_every_header_byte_and_across_the_data(saved):
    path, data = saved
    header_end = 8 + int.from_bytes(data[:8], "little")
    # Every byte of the length prefix, every third byte of the JSON header (names, dtypes,
    # shapes, offsets, metadata), then 100 positions spread over the tensor bytes; the
    # Hypothesis test below flips random bits anywhere.
    positions = [*range(8), *range(8, header_end, 3), *range(header_end, len(data),
                                            max(1, (len(data) - header_end) // 100))]
    for i in positions:
        bad = bytearray(data)
        bad[i] ^= 1 << (i % 8)
        path.write_bytes(bytes(bad))
        with pytest.raises(CheckpointError, match="^checkpoint corrupt: " + _path_re(path)):
            load_checkpoint(path)


@given(pos=st.floats(0, 1, exclude_max=True), bit=st.integers(0, 7))
def test_random_bit_flips_are_detected(tmp_path_factory, pos, bit):
    path = tmp_path_factory.mktemp("flip") / "c.safetensors"
    model, opt, _ = _trained()
    data = save_checkpoint(path, model, opt, step=3, epoch=1, config={}).read_bytes()
    bad = bytearray(data)
    bad[int(pos * len(data))] ^= 1 << bit
    path.write_bytes(bytes(bad))
    with pytest.raises(CheckpointError, match=r"^checkpoint corrupt: "):
        load_checkpoint(path)


def test_truncated_file_is_corrupt_at_every_length(saved):
    path, data = saved
    for n in [*range(0, 64), *range(64, len(data), max(1, len(data) // 97))]:
        path.write_bytes(data[:n])
        with pytest.raises(CheckpointError, match="^checkpoint corrupt: " + _path_re(path)):
            load_checkpoint(path)


def test_appended_garbage_is_corrupt(saved):
    path, data = saved
    path.write_bytes(data + b"\0" * 16)
    with pytest.raises(CheckpointError, match="checkpoint corrupt"):
        load_checkpoint(path)


def test_plain_safetensors_file_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "w.safetensors"
    safetensors.torch.save_file({"w": torch.ones(2)}, path)
    with pytest.raises(CheckpointError, match="not an rnnlab checkpoint"):
        load_checkpoint(path)


def test_missing_file_and_wrong_model(tmp_path, saved):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nope.safetensors")
    path, _ = saved
    with pytest.raises(CheckpointError, match="does not fit this model"):
        load_checkpoint(path, nn.Linear(3, 2))
    with pytest.raises(CheckpointError, match="does not fit this optimizer"):
        load_checkpoint(path, None, torch.optim.Adam([nn.Parameter(torch.ones(1))]))


def test_newer_format_version_is_refused(tmp_path):
    tensors = {"model.w": torch.ones(2)}
    meta = {"format": ck.FORMAT, "format_version": str(FORMAT_VERSION + 1), "step": "0",
            "epoch": "0", "config": "{}", "extra": "{}", "optimizer": "null", "rng": "null"}
    meta["sha256"] = ck._digest(tensors, meta)
    path = tmp_path / "future.safetensors"
    path.write_bytes(safetensors.torch.save(tensors, metadata=meta))
    with pytest.raises(CheckpointError, match=f"format version {FORMAT_VERSION + 1}"):
        load_checkpoint(path)


@given(blob=st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_checkpoint_error(tmp_path_factory, blob):
    path = tmp_path_factory.mktemp("blob") / "c.safetensors"
    path.write_bytes(blob)
    with pytest.raises(CheckpointError):
        load_checkpoint(path)


_FIELDS = ["format_version", "step", "epoch", "config", "extra", "optimizer", "rng"]


@given(overrides=st.dictionaries(st.sampled_from(_FIELDS),
                                 st.text(max_size=12) | _json.map(json.dumps), max_size=3))
def test_hostile_metadata_with_a_valid_hash_raises_only_checkpoint_error(tmp_path_factory,
                                                                         overrides):
    # Someone who recomputes the SHA-256 can write any metadata; loading must still fail
    # cleanly (or succeed), never with a KeyError or TypeError from deep inside.
    folder = tmp_path_factory.mktemp("hostile")
    model, opt, _ = _trained()
    data = save_checkpoint(folder / "ok.safetensors", model, opt, step=3, epoch=1,
                           config={}).read_bytes()
    n = int.from_bytes(data[:8], "little")
    meta = {**json.loads(data[8 : 8 + n])["__metadata__"], **overrides}
    flat = safetensors.torch.load(data)
    meta["sha256"] = ck._digest(flat, meta)
    path = folder / "hostile.safetensors"
    path.write_bytes(safetensors.torch.save(flat, metadata=meta))
    with contextlib.suppress(CheckpointError):
        load_checkpoint(path, model, opt).restore_rng()


# --------------------------------------------------------------------------- failed saves


def _temp_files(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_exception_inside_serialisation_keeps_previous(saved, monkeypatch):
    path, before = saved
    model, opt, _ = _trained(seed=2)

    def boom(*args, **kwargs):
        raise RuntimeError("serialiser exploded")

    monkeypatch.setattr(safetensors.torch, "save", boom)
    with pytest.raises(CheckpointError, match=_path_re(path)):
        save_checkpoint(path, model, opt, step=9, epoch=2, config={})
    assert path.read_bytes() == before and not _temp_files(path.parent)


@pytest.mark.parametrize("where", ["write", "fsync", "replace"])
def test_disk_full_keeps_previous_and_names_path(saved, monkeypatch, where):
    path, before = saved
    model, opt, _ = _trained(seed=2)
    import os  # the os module the atomic writer (rnnlab._fs) calls

    def enospc(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    if where == "write":
        real_fdopen = os.fdopen

        class Full:
            def __init__(self, f):
                self.f = f

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.f.close()

            def write(self, data):
                enospc()

            def __getattr__(self, name):
                return getattr(self.f, name)

        monkeypatch.setattr(os, "fdopen", lambda fd, mode: Full(real_fdopen(fd, mode)))
    else:
        monkeypatch.setattr(os, where, enospc)
    with pytest.raises(OSError, match=_path_re(path)) as info:
        save_checkpoint(path, model, opt, step=9, epoch=2, config={})
    assert info.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert path.read_bytes() == before and not _temp_files(path.parent)
    assert load_checkpoint(path).step == 3


def test_non_finite_tensors_are_never_saved(saved):
    path, before = saved
    model, opt, _ = _trained()
    with torch.no_grad():
        model[0].weight[0, 0] = float("nan")
    with pytest.raises(NonFiniteError, match=r"0\.weight"):
        save_checkpoint(path, model, opt, step=4, epoch=1, config={})
    with torch.no_grad():
        model[0].weight[0, 0] = 1.0
    with pytest.raises(NonFiniteError, match="Inf"):
        save_checkpoint(path, model, step=4, epoch=1, config={},
                        tensors={"x": torch.tensor([float("inf")])})
    assert path.read_bytes() == before


def test_unstorable_config_names_path(tmp_path):
    path = tmp_path / "c.safetensors"
    with pytest.raises(CheckpointError, match=_path_re(path)):
        save_checkpoint(path, {}, step=0, epoch=0, config={"f": object()})
    assert not path.exists() and not _temp_files(tmp_path)


# --------------------------------------------------------------------------- never unpickle


class _Evil:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("how", ["torch.save", "pickle"])
def test_pickle_checkpoint_is_refused_and_nothing_runs(tmp_path, how):
    marker = tmp_path / "PWNED"
    path = tmp_path / "evil.safetensors"
    payload = {"model": _Evil(marker), "state_dict": {"w": torch.ones(2)}}
    if how == "torch.save":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload))
    assert not marker.exists()
    with pytest.raises(CheckpointError, match="checkpoint corrupt"):
        load_checkpoint(path, nn.Linear(1, 2))
    assert not marker.exists()


def test_no_code_path_unpickles():
    src = Path(ck.__file__).parent
    offenders = []
    for py in src.rglob("*.py"):
        text = py.read_text(encoding="utf-8")
        for n, line in enumerate(text.splitlines(), 1):
            code = line.split("#", 1)[0]
            if re.search(r"\bimport pickle\b|\bfrom pickle\b|pickle\.loads?\(|allow_pickle=True"
                         r"|\bdill\b|cloudpickle", code):
                offenders.append(f"{py.name}:{n}: {line.strip()}")
            if re.search(r"(?<![\w.])torch\.load\(", code) and "weights_only=True" not in code:
                offenders.append(f"{py.name}:{n}: {line.strip()}")
    assert not offenders, offenders


def test_metadata_is_plain_json(saved):
    _, data = saved
    n = int.from_bytes(data[:8], "little")
    meta = json.loads(data[8 : 8 + n])["__metadata__"]
    assert set(meta) >= {"format", "format_version", "step", "epoch", "config", "sha256", "rng",
                         "optimizer", "extra"}
    assert len(meta["sha256"]) == 64
