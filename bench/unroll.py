"""Forward+backward time and peak memory of rnnlab's unrollers against raw ``torch.nn``.

Times: every case of one T is built in this process and run once per round, in turn, for
several rounds; each case's best round counts, so load bursts on a shared machine hit all
cases alike. Peak memory: each case runs again in a fresh subprocess, which reports its
``ru_maxrss`` (PyTorch keeps no CPU allocator statistics).

    python bench/unroll.py                 # full table (about 5 minutes on 2 cores)
    python bench/unroll.py --quick         # T=28 only
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

B, H, F = 150, 100, 28


def _lengths(kind: str, T: int, gen):
    import torch

    if kind == "uniform":  # averages about T/2
        return torch.randint(1, T + 1, (B,), generator=gen)
    # skewed: 80% short sequences (at most T/5), 20% full length
    short = torch.randint(1, max(2, T // 5) + 1, (B,), generator=gen)
    return torch.where(torch.rand(B, generator=gen) < 0.2, torch.full_like(short, T), short)


def make_step(cell: str, T: int, impl: str, lengths_kind: str):
    """The forward+backward of one case, as a function of no arguments."""
    import torch

    import rnnlab

    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(B, T, F, requires_grad=True)
    lengths = None if lengths_kind == "none" else _lengths(lengths_kind, T, gen)
    if cell == "lstm_peephole":
        module = rnnlab.LSTMCell(F, H, use_peepholes=True)
        ref = None
    else:
        cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
        ref = cls(F, H, batch_first=True)
        module = rnnlab.cells_from_torch(ref)

    if impl == "torch":
        def step():
            out, _ = ref(x)
            out.sum().backward()
    elif impl == "torch_packed":
        from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

        def step():
            packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            out, _ = ref(packed)
            out, _ = pad_packed_sequence(out, batch_first=True, total_length=T)
            out.sum().backward()
    elif impl == "static":
        def step():
            outs, _ = rnnlab.static_rnn(module, list(x.unbind(1)), sequence_length=lengths)
            torch.stack(outs, 1).sum().backward()
    else:
        backend = {"dynamic": "auto", "dynamic_loop": "loop", "dynamic_kernel": "kernel"}[impl]

        def step():
            out, _ = rnnlab.dynamic_rnn(module, x, sequence_length=lengths, backend=backend)
            out.sum().backward()

    return step


def run_case(cell: str, T: int, impl: str, lengths_kind: str, repeats: int) -> dict:
    """Time one case alone in this process; returns seconds and peak RSS (ru_maxrss)."""
    step = make_step(cell, T, impl, lengths_kind)
    step()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": min(times), "peak_mib": peak_mib}


def time_interleaved(cases, T: int, rounds: int) -> dict:
    """Best time of each case over rounds that run every case once, in turn.

    Cases compared by a ratio run side by side in every round, so a burst of load on this
    shared machine hits all of them instead of skewing one.
    """
    steps = {case: make_step(case[0], T, case[1], case[2]) for case in cases}
    for step in steps.values():
        step()  # warm-up
    best = dict.fromkeys(steps, float("inf"))
    for _ in range(rounds):
        for case, step in steps.items():
            start = time.perf_counter()
            step()
            best[case] = min(best[case], time.perf_counter() - start)
    return best


CASES = [
    # (cell, impl, lengths)
    *[(c, "torch", "none") for c in ("rnn", "lstm", "gru")],
    *[(c, "dynamic", "none") for c in ("rnn", "lstm", "gru")],
    *[(c, "dynamic", "uniform") for c in ("rnn", "lstm", "gru")],
    *[(c, "dynamic", "skewed") for c in ("rnn", "lstm", "gru")],
    *[(c, "torch_packed", "uniform") for c in ("rnn", "lstm", "gru")],
    *[(c, "dynamic_kernel", "none") for c in ("rnn", "lstm", "gru")],
    ("rnn", "static", "none"),
    ("lstm", "static", "none"),
    ("lstm", "dynamic_loop", "none"),
    ("lstm_peephole", "dynamic", "none"),
    ("lstm_peephole", "dynamic", "uniform"),
]


def _spawn(cell, T, impl, lengths_kind, threads) -> dict:
    repeats = 1
    cmd = [sys.executable, __file__, "--case", cell, str(T), impl, lengths_kind,
           str(repeats), "--threads", str(threads)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", nargs=5, metavar=("CELL", "T", "IMPL", "LENGTHS", "REPEATS"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--packed-up-to", type=int, default=100, metavar="T",
                        help="time PyTorch's packed sequences only up to this T (at T=1000 "
                             "one step takes over a minute)")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    if args.case:
        cell, T, impl, lengths_kind, repeats = args.case
        print(json.dumps(run_case(cell, int(T), impl, lengths_kind, int(repeats))))
        return

    results = {}
    sizes = (28,) if args.quick else (28, 100, 1000)
    cases_for = {T: [(cell, impl, lengths_kind) for cell, impl, lengths_kind in CASES
                     if not ((impl == "static" and T == 1000 and cell == "lstm")
                             or (impl == "torch_packed" and args.packed_up_to < T))]
                 for T in sizes}
    # Memory first, while this process is still small: Linux keeps a process's peak RSS
    # across fork and exec, so a child started later would report this process's peak.
    memory = {(T, *case): _spawn(*case[:1], T, *case[1:], args.threads)["peak_mib"]
              for T in sizes for case in cases_for[T]}
    print(f"B={B}, hidden={H}, features={F}, threads={args.threads}, torch {torch.__version__}")
    print(f"{'T':>5} {'cell':<14} {'impl':<13} {'lengths':<8} {'ms':>9} {'peak MiB':>9}")
    for T in sizes:
        best = time_interleaved(cases_for[T], T, rounds=3 if T >= 1000 else 7)
        for cell, impl, lengths_kind in cases_for[T]:
            r = {"seconds": best[(cell, impl, lengths_kind)],
                 "peak_mib": memory[(T, cell, impl, lengths_kind)]}
            results[f"{T}/{cell}/{impl}/{lengths_kind}"] = r
            print(f"{T:>5} {cell:<14} {impl:<13} {lengths_kind:<8} {r['seconds'] * 1e3:>9.1f} "
                  f"{r['peak_mib']:>9.0f}", flush=True)

    def ratio(a, b):
        return results[a]["seconds"] / results[b]["seconds"]

    print("\nratios (targets in brackets)")
    for T in sizes:
        for cell in ("rnn", "lstm", "gru"):
            fused = ratio(f"{T}/{cell}/dynamic/none", f"{T}/{cell}/torch/none")
            lens = ratio(f"{T}/{cell}/dynamic/uniform", f"{T}/{cell}/dynamic/none")
            skew = ratio(f"{T}/{cell}/dynamic/skewed", f"{T}/{cell}/dynamic/none")
            packed = (ratio(f"{T}/{cell}/torch_packed/uniform", f"{T}/{cell}/torch/none")
                      if f"{T}/{cell}/torch_packed/uniform" in results else float("nan"))
            kernel = ratio(f"{T}/{cell}/dynamic_kernel/none", f"{T}/{cell}/torch/none")
            target = "<= 1.00" if T == 28 else "<= 0.65"
            print(f"T={T:<5} {cell:<5} dynamic/torch {fused:5.2f} [<= 1.10]   "
                  f"lengths/none {lens:5.2f} [{target}]   skewed/none {skew:5.2f}   "
                  f"torch packed/unpacked {packed:5.2f}   kernel/torch {kernel:5.2f}")
        peep = ratio(f"{T}/lstm_peephole/dynamic/none", f"{T}/lstm/dynamic/none")
        print(f"T={T:<5} looped peephole LSTM / fused LSTM {peep:5.2f} "
              f"[{'<= 3.00' if T == 28 else 'report'}]")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
