"""Inference latency of an exported classifier: eager rnnlab, torch.export and onnxruntime.

A GRU and an LSTM ``SequenceClassifier`` (28 features, 100 units, 10 classes, "last"
pooling, as the Fashion-MNIST model) read batches of B = 1 and 64 sequences of T = 28 and
200 steps with random lengths in [1, T] (B = 1: length T). Eager rnnlab is the model's own
forward (rnnlab's sequence kernels for lengths), under ``torch.no_grad``; the
torch.export program and the ONNX file are the ``rnnlab export`` graphs of the same model
(``rnnlab.nn.scan``), exported once at B=2, T=5. Every case runs once per round, in turn,
for several rounds; each case's best round counts (load bursts on a shared machine hit all
cases alike). One intra-op thread everywhere, so the numbers compare the graphs, not the
thread pools. ``--quantize`` also times onnxruntime's dynamic int8 quantisation of the
ONNX file and reports its largest probability change and argmax agreement.

    python bench/export.py                       # the table
    python bench/export.py --rounds 3 --quick    # a short run
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

F, H, C = 28, 100, 10


def _model(cell: str):
    import torch

    from rnnlab.models.classifier import ClassifierConfig, SequenceClassifier

    torch.manual_seed(0)
    return SequenceClassifier(ClassifierConfig(input_size=F, num_classes=C, cell=cell,
                                               num_units=H)).eval()


def _batch(B: int, T: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((B, T, F)).astype(np.float32)
    lengths = np.full(B, T, np.int64) if B == 1 else rng.integers(1, T + 1, B).astype(np.int64)
    return x, lengths


def _best(fns: dict, args: tuple, rounds: int, calls: int) -> dict[str, float]:
    """Seconds per call of each function: every one once per round, in turn; best round."""
    for fn in fns.values():
        fn(*args)  # warm up
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            for _ in range(calls):
                fn(*args)
            best[name] = min(best[name], (time.perf_counter() - start) / calls)
    return best


def _cases(cell: str, folder: Path, quantize: bool):
    """``{impl: runner(x, lengths)}`` for one cell."""
    import onnxruntime as ort
    import torch

    from rnnlab.export.classify import ClassifierGraph
    from rnnlab.export.onnx import onnx_bytes
    from rnnlab.export.torch_export import export_program

    model = _model(cell)
    module = ClassifierGraph(model)
    example = {"inputs": torch.randn(2, 5, F), "lengths": torch.tensor([5, 3])}
    dynamic = {"inputs": {0: "batch", 1: "time"}, "lengths": {0: "batch"}}
    program = export_program(module, example, dynamic).module()
    path = folder / f"{cell}.onnx"
    path.write_bytes(onnx_bytes(module, example, ("logits",), dynamic))
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def eager(x, n):
        with torch.no_grad():
            return model(torch.from_numpy(x), torch.from_numpy(n)).numpy()

    def traced(x, n):
        with torch.no_grad():
            return program(torch.from_numpy(x), torch.from_numpy(n)).numpy()

    def onnx(x, n):
        return session.run(None, {"inputs": x, "lengths": n})[0]

    cases = {"eager": eager, "torch.export": traced, "onnxruntime": onnx}
    if quantize:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        qpath = folder / f"{cell}-int8.onnx"
        quantize_dynamic(str(path), str(qpath), weight_type=QuantType.QInt8)
        qsession = ort.InferenceSession(str(qpath), options,
                                        providers=["CPUExecutionProvider"])
        cases["ort int8"] = lambda x, n: qsession.run(None, {"inputs": x, "lengths": n})[0]
    return cases


def _softmax(z):
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="fewer calls per round")
    parser.add_argument("--quantize", action="store_true", help="also ORT dynamic int8")
    parser.add_argument("--cells", default="gru,lstm")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for cell in args.cells.split(","):
            cases = _cases(cell, Path(tmp), args.quantize)
            for B in (1, 64):
                for T in (28, 200):
                    x, n = _batch(B, T)
                    ref = cases["eager"](x, n)
                    calls = max(1, (2 if args.quick else 10) * 64 * 28 // (B * T))
                    times = _best(cases, (x, n), args.rounds, calls)
                    diff = {k: float(np.abs(_softmax(f(x, n)) - _softmax(ref)).max())
                            for k, f in cases.items()}
                    agree = {k: float((f(x, n).argmax(1) == ref.argmax(1)).mean())
                             for k, f in cases.items()}
                    rows.append((cell, B, T, times, diff, agree))
    impls = list(rows[0][3])
    print("| cell | B | T | " + " | ".join(f"{k} ms" for k in impls)
          + " | ort / eager | max prob diff (ort) |"
          + (" int8 max prob diff | int8 argmax agree |" if args.quantize else ""))
    print("|---" * (3 + len(impls) + 2 + (2 if args.quantize else 0)) + "|")
    for cell, B, T, times, diff, agree in rows:
        ratio = times["onnxruntime"] / times["eager"]
        line = (f"| {cell} | {B} | {T} | " + " | ".join(f"{times[k] * 1e3:.3f}" for k in impls)
                + f" | {ratio:.2f} | {diff['onnxruntime']:.1e} |")
        if args.quantize:
            line += f" {diff['ort int8']:.1e} | {agree['ort int8']:.2f} |"
        print(line)


if __name__ == "__main__":
    main()
