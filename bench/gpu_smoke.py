"""GPU smoke test: the engine's equivalence checks and one epoch of each model on CUDA.

Run on a machine with a GPU (it exits 2 without one):

    python bench/gpu_smoke.py [--data-dir /usr/share/datasets/fashion-mnist]

It prints a table: each check's max |difference| against PyTorch's own modules on the
GPU (fused path = cuDNN with packed sequences, loop path = per-step cells), and the
time and validation accuracy of one epoch of each classifier.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from functools import partial

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import rnnlab


def _parameters(cells) -> list[torch.Tensor]:
    """The parameters of a cell, or of (nested) lists of cells."""
    if isinstance(cells, nn.Module):
        return list(cells.parameters())
    return [p for c in cells for p in _parameters(c)]


def _grad_norms(params) -> list[float]:
    """Each parameter's squared gradient norm, sorted: an order-free fingerprint."""
    return sorted(float(p.grad.pow(2).sum()) for p in params)


def equivalence(device: torch.device) -> list[tuple[str, float]]:
    """Max |difference| of outputs, input gradients and weight gradients against torch.nn."""
    rows = []
    torch.manual_seed(0)
    for kind in ("rnn", "lstm", "gru"):
        for layers, bidirectional in ((1, False), (2, False), (2, True)):
            cls = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[kind]
            ref = cls(16, 32, num_layers=layers, bidirectional=bidirectional).double().to(device)
            x = torch.randn(50, 24, 16, dtype=torch.float64, device=device, requires_grad=True)
            lengths = torch.randint(1, 51, (24,))
            packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
            ref_out, _ = pad_packed_sequence(ref(packed)[0], total_length=50)
            probe = torch.randn_like(ref_out)
            (ref_out * probe).sum().backward()
            ref_x_grad, x.grad = x.grad, None
            ref_norms = _grad_norms(ref.parameters())
            for backend in ("fused", "loop"):
                cells = rnnlab.cells_from_torch(ref)
                if bidirectional:
                    out, _, _ = rnnlab.stack_bidirectional_dynamic_rnn(
                        *cells, x, sequence_length=lengths, time_major=True)
                else:
                    out, _ = rnnlab.dynamic_rnn(cells, x, sequence_length=lengths,
                                                time_major=True, backend=backend)
                (out * probe).sum().backward()
                x_grad, x.grad = x.grad, None
                norms = _grad_norms(_parameters(cells))
                diff = max((out - ref_out).abs().max().item(),
                           (x_grad - ref_x_grad).abs().max().item(),
                           max(abs(a - b) / max(b, 1e-30) for a, b in zip(norms, ref_norms,
                                                                          strict=True)))
                name = f"{kind} L={layers}{' bi' if bidirectional else ''} {backend}"
                if backend == "fused" and not bidirectional:  # one buffer after the call?
                    storages = {p.untyped_storage().data_ptr() for p in _parameters(cells)}
                    name += " (1 buffer)" if len(storages) == 1 else f" ({len(storages)} bufs)"
                rows.append((name, diff))
                if bidirectional:
                    break
    return rows


def _step_ms(fn, repeats: int = 30) -> float:
    """Median milliseconds of fn() (forward + backward), CUDA-synchronised."""
    for _ in range(5):
        fn()
    times = []
    for _ in range(repeats):
        torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return 1000 * sorted(times)[len(times) // 2]


def speed(device: torch.device) -> list[tuple[str, float, float]]:
    """Forward + backward time of dynamic_rnn beside torch.nn's module, float32, on the GPU."""
    rows = []
    torch.manual_seed(0)
    for kind in ("rnn", "lstm", "gru"):
        for steps, with_lengths in ((28, False), (100, False), (100, True)):
            cls = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[kind]
            ref = cls(28, 128, batch_first=True).to(device)
            cells = rnnlab.cells_from_torch(ref)
            x = torch.randn(256, steps, 28, device=device, requires_grad=True)
            lengths = torch.randint(steps // 4, steps + 1, (256,)) if with_lengths else None
            name = f"{kind} T={steps}{' lengths' if with_lengths else ''}"
            rows.append((name, _step_ms(partial(_torch_step, ref, x, lengths)),
                         _step_ms(partial(_rnnlab_step, cells, x, lengths))))
    return rows


def _torch_step(ref: nn.Module, x: torch.Tensor, lengths: torch.Tensor | None) -> None:
    if lengths is None:
        out = ref(x)[0]
    else:
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out = pad_packed_sequence(ref(packed)[0], batch_first=True)[0]
    out.sum().backward()


def _rnnlab_step(cells, x: torch.Tensor, lengths: torch.Tensor | None) -> None:
    out, _ = rnnlab.dynamic_rnn(cells, x, sequence_length=lengths)
    out.sum().backward()


def one_epoch(device: str, dataset: str, data_dir: str | None) -> list[tuple[str, float, float]]:
    from rnnlab.tasks.classify import ClassifyConfig, train_classify
    from rnnlab.train import FitConfig

    rows = []
    for model in ("rnn", "lstm", "gru", "bnmlp"):
        with tempfile.TemporaryDirectory() as run_dir:
            start = time.perf_counter()
            _, history = train_classify(
                ClassifyConfig(dataset=dataset, data_dir=data_dir, model=model,
                               units=128 if model != "rnn" else 100),
                FitConfig(epochs=1, batch_size=150, device=device), run_dir=run_dir)
            rows.append((model, time.perf_counter() - start,
                         history.rows[-1].get("val_accuracy", float("nan"))))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device: nothing to check here (run this where a GPU is present)")
        return 2
    device = torch.device("cuda")
    print(f"device: {torch.cuda.get_device_name(0)}, torch {torch.__version__}")
    print(f"{'check (out, grads)':<32} {'max |diff|':>12}")
    worst = 0.0
    for name, diff in equivalence(device):
        worst = max(worst, diff)
        print(f"{name:<32} {diff:>12.2e}")
    print(f"{'fwd+bwd, B=256, H=128':<24} {'torch ms':>9} {'rnnlab ms':>10} {'ratio':>6}")
    for name, ms_torch, ms_rnnlab in speed(device):
        print(f"{name:<24} {ms_torch:>9.2f} {ms_rnnlab:>10.2f} {ms_rnnlab / ms_torch:>6.2f}")
    print(f"{'model':<8} {'epoch s':>8} {'val acc':>8}")
    for model, seconds, acc in one_epoch("cuda", args.dataset, args.data_dir):
        print(f"{model:<8} {seconds:>8.1f} {acc:>8.4f}")
    return 0 if worst < 1e-8 else 1


if __name__ == "__main__":
    sys.exit(main())
