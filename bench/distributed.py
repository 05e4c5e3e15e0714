"""Data-parallel scaling of the Fashion-MNIST classifier: 1 process vs N processes.

The job is ``rnnlab train classify --dataset fashion-mnist --model rnn --units 100
--batch-size 150``, trained through :func:`rnnlab.train.fit` on a subset of the training
set (``--steps`` global batches, after ``--warmup``), on the same global batch for every
process count. Threads are split fairly: by default 1 process x 2 threads against 2
processes x 1 thread (the same 2 cores), plus 1 x 1 as the one-core baseline. Processes
rendezvous on 127.0.0.1 with gloo. Run it on a quiet machine: on a loaded one, OpenMP's
spinning threads and descheduled peers make every number meaningless.

Reported per process count:

* ``s/epoch``: fit's time per global step x 367 steps (55,000 images / 150), training
  only (validation excluded).
* ``speed-up``: the first row's time per epoch / this row's. ``efficiency``: speed-up per
  core used, against the first row (1.0 is perfect). 1 x 2 threads against 2 x 1 thread
  use the same 2 cores, so there efficiency equals the speed-up:
  above 1.0 means two processes use the cores better than one process's intra-op
  threads do; below, communication and duplicated work cost more than they save.
* ``allreduce ms``: gradient all-reduce time per step, timed by a DDP communication hook
  that runs the all-reduce synchronously (an upper bound: DDP normally overlaps it with
  the backward pass) in a plain DDP loop beside fit.
* ``no_sync ms``: step time with gradient sync minus without (``DDP.no_sync``): what the
  synchronisation really costs, overlap included.
* ``scalar ms``: one of fit's per-step all-reduces of a few floats (loss, metrics,
  NaN flag).

    python bench/distributed.py                       # about 1.5 minutes on a quiet 2-core box
    python bench/distributed.py --configs 1x1 2x1 4x1   # more processes (more cores)
    python bench/distributed.py --steps 20 --warmup 2 # quicker
    python bench/distributed.py --json
    python bench/distributed.py --sizes               # inputs of docs/scaling.md (~1 minute)
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Running a script puts bench/ first on sys.path, where a module named like a standard one
# (a tokenize.py there once broke torch's import) would shadow it; take bench/ off.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

BATCH, UNITS, EPOCH_IMAGES = 150, 100, 55_000
DATA_DIR = "/usr/share/datasets/fashion-mnist"


def _worker(args: argparse.Namespace) -> None:
    """One process of a measurement (rank from torchrun-style variables)."""
    import torch
    from torch import nn

    from rnnlab import distributed
    from rnnlab.tasks.classify import ClassifyModel, build_model, model_entry
    from rnnlab.tasks.classify_data import image_examples
    from rnnlab.training import FitConfig, accuracy, fit

    torch.set_num_threads(args.threads)
    examples = image_examples("fashion-mnist", "train", args.data_dir)
    n = BATCH * (args.steps + args.warmup)
    x, y = examples.x[:n], examples.y[:n]
    entry = model_entry(ClassifyModel(model="rnn", units=UNITS).resolved(), examples)
    result: dict = {"threads": args.threads}
    with distributed.distributed_session(device="cpu", timeout_s=120) as group:
        world = group.world_size if group else 1
        rank = group.rank if group else 0

        def run_fit(steps: int, rows: slice) -> float:
            torch.manual_seed(0)
            model = build_model(entry)
            config = FitConfig(epochs=1, batch_size=BATCH, device="cpu", plot=False,
                               max_steps=steps, shuffle=False)
            start = time.perf_counter()
            fit(model, (x[rows], y[rows]), loss_fn=nn.functional.cross_entropy,
                config=config, metrics={"accuracy": accuracy})
            return time.perf_counter() - start

        run_fit(args.warmup, slice(0, BATCH * args.warmup))
        seconds = run_fit(args.steps, slice(BATCH * args.warmup, n))
        result["fit_s_per_step"] = seconds / args.steps
        result["params"] = sum(p.numel() for p in build_model(entry).parameters())
        if group is not None:
            result.update(_comm(group, build_model(entry), x, y, args))
    if rank == 0:
        Path(args.result).write_text(json.dumps({**result, "world": world}))


def _comm(group, model, x, y, args) -> dict:
    """All-reduce time per step with a timing comm hook, and the cost of sync vs no_sync."""
    import torch
    import torch.distributed as dist
    from torch import nn
    from torch.nn.parallel import DistributedDataParallel

    spent = []

    def timed_allreduce(state, bucket):
        buf = bucket.buffer()
        start = time.perf_counter()
        dist.all_reduce(buf)  # synchronous: measures the wire, not hidden by overlap
        spent.append(time.perf_counter() - start)
        buf.div_(group.world_size)
        fut = torch.futures.Future()
        fut.set_result(buf)
        return fut

    ddp = DistributedDataParallel(model)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    per = BATCH // group.world_size
    lo = group.rank * per

    def steps(count: int, sync: bool) -> float:
        start = time.perf_counter()
        for i in range(count):
            xb = x[i * BATCH + lo: i * BATCH + lo + per]
            yb = y[i * BATCH + lo: i * BATCH + lo + per]
            opt.zero_grad(set_to_none=True)
            if sync:
                nn.functional.cross_entropy(ddp(xb), yb).backward()
            else:
                with ddp.no_sync():
                    nn.functional.cross_entropy(ddp(xb), yb).backward()
            opt.step()
        group.all_sum([0.0])  # line the ranks up before the clock stops
        return (time.perf_counter() - start) / count

    count = max(5, args.steps // 2)
    steps(2, True)
    with_sync = min(steps(count, True), steps(count, True))
    without = min(steps(count, False), steps(count, False))
    ddp.register_comm_hook(None, timed_allreduce)
    spent.clear()
    hooked = steps(count, True)
    allreduce = sum(spent) / count
    start = time.perf_counter()
    for _ in range(200):
        group.all_sum([1.0, 2.0, 3.0, 0.0])
    scalar = (time.perf_counter() - start) / 200
    return {"ddp_s_per_step": with_sync, "no_sync_s_per_step": without,
            "hooked_s_per_step": hooked, "allreduce_s_per_step": allreduce,
            "scalar_allreduce_s": scalar}


# Sentiment-sized models for docs/scaling.md: (name, TextModelConfig fields, batch size).
SENTIMENT = [
    ("flatten, notebook 1", dict(kind="flatten", vocab_size=10_000, embedding_dim=8,
                                 maxlen=50), 32),
    ("glove-flatten, notebook 2", dict(kind="glove-flatten", vocab_size=10_000,
                                       embedding_dim=100, maxlen=100, hidden=32), 32),
    ("gru 100, 20k words x 100", dict(kind="gru", vocab_size=20_000, embedding_dim=100,
                                      maxlen=200, hidden=100), 64),
    ("bi-lstm 128, 20k words x 100", dict(kind="lstm", vocab_size=20_000, embedding_dim=100,
                                          maxlen=200, hidden=128, bidirectional=True), 64),
    ("bag + 500k bigram buckets", dict(kind="bag", vocab_size=30_000, embedding_dim=100,
                                       maxlen=400, bigram_buckets=500_000), 64),
]


def sizes(repeats: int = 5) -> list[dict]:
    """Per-step compute (forward, backward, Adam; 1 thread) and all-reduce bytes per model."""
    import torch
    from torch import nn

    from rnnlab.models.text import TextClassifier, TextModelConfig

    torch.set_num_threads(1)
    rows = []
    for name, fields, batch in SENTIMENT:
        torch.manual_seed(0)
        model = TextClassifier(TextModelConfig(**fields))
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        x = torch.randint(1, fields["vocab_size"], (batch, fields["maxlen"]))
        y = torch.randint(0, 2, (batch,)).float()
        times = []
        for _ in range(repeats + 1):
            start = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            nn.functional.binary_cross_entropy_with_logits(model(x), y).backward()
            opt.step()
            times.append(time.perf_counter() - start)
        params = sum(p.numel() for p in model.parameters())
        rows.append({"model": name, "batch": batch, "maxlen": fields["maxlen"],
                     "params": params, "allreduce_mb": params * 4 / 1e6,
                     "cpu_ms_per_step": sorted(times[1:])[len(times[1:]) // 2] * 1e3})
    return rows


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _measure(spec: str, args: argparse.Namespace) -> dict:
    nproc, threads = (int(v) for v in spec.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "result.json"
        cmd = [sys.executable, "-P", __file__, "--worker", "--threads", str(threads),
               "--steps", str(args.steps), "--warmup", str(args.warmup),
               "--data-dir", args.data_dir, "--result", str(result)]
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        if nproc > 1:
            env.update(WORLD_SIZE=str(nproc), MASTER_ADDR="127.0.0.1",
                       MASTER_PORT=str(_free_port()))
        procs = [subprocess.Popen(cmd, env={**env, **({"RANK": str(r), "LOCAL_RANK": str(r)}
                                                      if nproc > 1 else {})})
                 for r in range(nproc)]
        codes = [p.wait() for p in procs]
        if any(codes):
            raise SystemExit(f"{nproc} process(es): exit codes {codes}")
        return json.loads(result.read_text())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=["1x2", "2x1", "1x1"],
                        metavar="PxT", help="processes x threads each; the first is the "
                        "reference (default: 1x2 2x1 1x1)")
    parser.add_argument("--steps", type=int, default=60, help="timed global steps (60)")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3,
                        help="interleaved runs per configuration; the fastest is kept (3)")
    parser.add_argument("--data-dir", default=DATA_DIR)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--sizes", action="store_true",
                        help="instead: per-step CPU compute and all-reduce size of "
                             "sentiment-sized models (the inputs of docs/scaling.md)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _worker(args)
        return 0
    load = os.getloadavg()[0]
    if args.sizes:
        table = sizes()
        if args.json:
            print(json.dumps({"load_before": load, "rows": table}))
            return 0
        print(f"sentiment-sized models, 1 thread, median of 5 steps; load before {load:.2f}")
        print("| model | batch x maxlen | parameters | all-reduce MB | CPU ms/step |")
        print("|---|---|---|---|---|")
        for r in table:
            print(f"| {r['model']} | {r['batch']} x {r['maxlen']} | {r['params']:,} | "
                  f"{r['allreduce_mb']:.1f} | {r['cpu_ms_per_step']:.1f} |")
        return 0
    # Interleaved repeats, best kept: another user's process on a 2-core box slows a run
    # several-fold (OpenMP threads spin at barriers), never speeds one up.
    runs = [[] for _ in args.configs]
    for _ in range(args.repeats):
        for i, spec in enumerate(args.configs):
            runs[i].append(_measure(spec, args))
    rows = [min(r, key=lambda row: row["fit_s_per_step"]) for r in runs]
    steps_per_epoch = -(-EPOCH_IMAGES // BATCH)
    first = rows[0]
    for row in rows:
        row["s_per_epoch"] = row["fit_s_per_step"] * steps_per_epoch
        row["speedup"] = first["fit_s_per_step"] / row["fit_s_per_step"]
        # Speed-up per unit of cores used, against the first row: 1.0 is perfect.
        row["efficiency"] = row["speedup"] * (first["world"] * first["threads"]) \
            / (row["world"] * row["threads"])
    if args.json:
        print(json.dumps({"load_before": load, "load_after": os.getloadavg()[0],
                          "rows": rows}))
        return 0
    print(f"Fashion-MNIST RNN({UNITS}), global batch {BATCH}, {args.steps} timed steps, "
          f"best of {args.repeats}; "
          f"load average before: {load:.2f}; "
          f"{rows[0]['params']:,} parameters = {rows[0]['params'] * 4 / 1e3:.1f} kB "
          "per all-reduce")
    print("| processes x threads | s/epoch | speed-up | efficiency | allreduce ms (share) "
          "| sync - no_sync ms | scalar ms |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        comm = "-"
        if "allreduce_s_per_step" in row:
            share = row["allreduce_s_per_step"] / row["hooked_s_per_step"]
            comm = f"{row['allreduce_s_per_step'] * 1e3:.2f} ({share:.1%})"
        diff = (f"{(row['ddp_s_per_step'] - row['no_sync_s_per_step']) * 1e3:.2f}"
                if "ddp_s_per_step" in row else "-")
        scalar = (f"{row['scalar_allreduce_s'] * 1e3:.3f}"
                  if "scalar_allreduce_s" in row else "-")
        print(f"| {row['world']} x {row['threads']} | {row['s_per_epoch']:.1f} | "
              f"{row['speedup']:.2f} | {row['efficiency']:.2f} | {comm} | {diff} | {scalar} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
