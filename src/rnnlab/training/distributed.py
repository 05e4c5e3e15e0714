"""Data-parallel training on several processes, on PyTorch's own engine (torch.distributed).

rnnlab does not invent a scheme: processes meet through torchrun's environment
rendezvous (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``),
talk over gloo on CPU and NCCL on CUDA, and :func:`rnnlab.training.fit` wraps the model in
``DistributedDataParallel`` when it finds a process group of more than one process.

Three ways in::

    torchrun --nproc-per-node 2 -m rnnlab train classify ...   # torch's launcher
    rnnlab train classify ... --nproc 2                          # launch_local, loopback only
    with distributed_session(): fit(...)                         # your own script under torchrun

What fit does under a group (see docs/distributed.md): ``FitConfig.batch_size`` is the
GLOBAL batch; every process draws the same seeded permutation and takes its own contiguous
slice of each global batch (:meth:`Dist.shard`); DDP averages the gradients; per-step loss
and metrics are summed over processes so every rank sees the same epoch row; validation is
sharded and summed; only rank 0 writes files. A checkpoint stores the global position
(epoch, global batches done), so a run resumes with any number of processes.

Failures are bounded: every collective times out after ``timeout_s`` (default
:data:`DEFAULT_TIMEOUT_S`, or ``RNNLAB_DIST_TIMEOUT`` seconds; gloo's own default is 30
minutes) and fit turns a dead or silent peer into a :class:`~rnnlab.errors.TrainingError`.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import signal
import socket
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

import torch
import torch.distributed as dist
from torch import nn

from rnnlab.errors import ConfigError, RnnlabError, TrainingError
from rnnlab.training.runtime import resolve_device

logger = logging.getLogger(__name__)

TIMEOUT_ENV = "RNNLAB_DIST_TIMEOUT"
DEFAULT_TIMEOUT_S = 300.0
_REQUIRED = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
T = TypeVar("T")


@dataclass(frozen=True)
class DistEnv:
    """Where this process sits in a job, as torchrun's environment says.

    Attributes:
        rank: this process's global rank, 0 .. world_size - 1.
        world_size: processes in the job.
        local_rank: rank on this machine (picks the GPU).
        local_world_size: processes on this machine.
        master_addr, master_port: where rank 0's store listens.
    """

    rank: int
    world_size: int
    local_rank: int
    local_world_size: int
    master_addr: str
    master_port: int


def detect_env(environ: Mapping[str, str] | None = None) -> DistEnv | None:
    """Read torchrun's variables; None when this process was not started by a launcher.

    Args:
        environ: the environment to read (default ``os.environ``).

    Raises:
        ConfigError: some variables are set but others are missing or malformed.

    Example:
        >>> detect_env({}) is None
        True
    """
    env = os.environ if environ is None else environ
    if "WORLD_SIZE" not in env:
        return None
    missing = [k for k in _REQUIRED if k not in env]
    if missing:
        raise ConfigError(f"WORLD_SIZE is set but {', '.join(missing)} is not; start the job "
                          "with torchrun or `rnnlab ... --nproc N`")

    def number(name: str, default: str | None = None, low: int = 0) -> int:
        text = env.get(name, default)
        try:
            value = int(text)
        except (TypeError, ValueError):
            value = None
        if value is None or value < low:
            raise ConfigError(f"{name}={text!r} is not allowed; give an integer >= {low}")
        return value

    world = number("WORLD_SIZE", low=1)
    rank = number("RANK")
    if rank >= world:
        raise ConfigError(f"RANK={rank} is not allowed with WORLD_SIZE={world}; give "
                          f"0 <= RANK < {world}")
    return DistEnv(rank=rank, world_size=world, local_rank=number("LOCAL_RANK", str(rank)),
                   local_world_size=number("LOCAL_WORLD_SIZE", str(world), low=1),
                   master_addr=env["MASTER_ADDR"], master_port=number("MASTER_PORT", low=1))


def resolve_timeout(timeout_s: float | None = None,
                    environ: Mapping[str, str] | None = None) -> float:
    """The collective timeout in seconds: ``timeout_s``, else ``RNNLAB_DIST_TIMEOUT``, else 300.

    Raises:
        ConfigError: the value is not a positive number.
    """
    env = os.environ if environ is None else environ
    value: object = timeout_s
    name = "timeout_s"
    if value is None and env.get(TIMEOUT_ENV):
        value, name = env[TIMEOUT_ENV], TIMEOUT_ENV
    if value is None:
        return DEFAULT_TIMEOUT_S
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = math.nan
    if isinstance(value, bool) or not math.isfinite(seconds) or seconds <= 0:
        raise ConfigError(f"{name}={value!r} is not allowed; give a number of seconds > 0")
    return seconds


# --------------------------------------------------------------------------- the live group


@dataclass(frozen=True)
class Dist:
    """The process group ``fit`` trains under (more than one process).

    Attributes:
        rank, world_size, local_rank: this process's place in the job.
        backend: "gloo" or "nccl".
    """

    rank: int
    world_size: int
    local_rank: int
    backend: str

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes files and drives progress bars."""
        return self.rank == 0

    @property
    def comm_device(self) -> torch.device:
        """Where small tensors for collectives live (NCCL needs them on this rank's GPU)."""
        if self.backend == "nccl":
            return torch.device("cuda", self.local_rank)
        return torch.device("cpu")

    def device(self, requested: torch.device) -> torch.device:
        """This rank's compute device: CUDA is ``cuda:LOCAL_RANK`` whatever index was asked."""
        if requested.type == "cuda":
            return torch.device("cuda", self.local_rank)
        return requested

    def per_rank_batch(self, batch_size: int) -> int:
        """``batch_size`` (global) / world size; ConfigError when it does not divide."""
        if batch_size % self.world_size:
            lower = batch_size - batch_size % self.world_size
            raise ConfigError(
                f"batch_size={batch_size} is the global batch and must divide evenly among "
                f"{self.world_size} processes; use {lower or self.world_size} or "
                f"{lower + self.world_size}")
        return batch_size // self.world_size

    def shard(self, rows: torch.Tensor) -> tuple[torch.Tensor, float]:
        """This rank's slice of one global batch, and the weight of its mean loss.

        The batch ``rows`` is cut into ``world_size`` contiguous pieces whose sizes differ
        by at most one (equal for every full batch). DDP averages gradients over ranks, so
        a rank's mean loss is scaled by ``len(piece) * world / len(rows)`` to make the
        average the mean over the whole global batch. A rank left with nothing (a last
        batch smaller than the world) runs one row with weight 0.

        Args:
            rows: (B,) example indices of a global batch.

        Returns:
            ``(indices (b,), weight)``.
        """
        piece = torch.tensor_split(rows, self.world_size)[self.rank]
        if len(piece) == 0:
            return rows[:1], 0.0
        if len(piece) * self.world_size == len(rows):
            return piece, 1.0
        return piece, len(piece) * self.world_size / len(rows)

    def val_range(self, n: int) -> tuple[int, int]:
        """``(start, stop)`` of this rank's contiguous slice of ``n`` validation rows."""
        edges = [n * r // self.world_size for r in range(self.world_size + 1)]
        return edges[self.rank], edges[self.rank + 1]

    def all_sum(self, values: Sequence[float]) -> list[float]:
        """Sum a few numbers over all ranks (float64), in one collective."""
        t = torch.tensor(list(values), dtype=torch.float64, device=self.comm_device)
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t.tolist()

    def all_ok(self, ok: bool) -> bool:
        """True when ``ok`` holds on every rank."""
        return self.all_sum([0.0 if ok else 1.0])[0] == 0.0

    def wrap(self, model: nn.Module, device: torch.device) -> nn.Module:
        """``model`` in ``DistributedDataParallel`` (rank 0's weights are broadcast)."""
        from torch.nn.parallel import DistributedDataParallel

        ids = [device.index] if device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids, output_device=ids and ids[0])

    def describe(self, batch_size: int) -> dict:
        """What config.json records about the job (the global batch and its split)."""
        return {"world_size": self.world_size, "backend": self.backend,
                "global_batch_size": batch_size,
                "per_process_batch_size": self.per_rank_batch(batch_size)}


def current() -> Dist | None:
    """The initialised process group, when it has more than one process; else None.

    ``fit`` calls this: with one process (or none) it trains exactly as without a group.
    """
    if not (dist.is_available() and dist.is_initialized()):
        return None
    world = dist.get_world_size()
    if world < 2:
        return None
    rank = dist.get_rank()
    local = int(os.environ.get("LOCAL_RANK", rank))
    return Dist(rank=rank, world_size=world, local_rank=local, backend=dist.get_backend())


def is_main_process() -> bool:
    """True unless this is a non-zero rank of a job (the CLI prints only on rank 0)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank() == 0
    env = detect_env()
    return env is None or env.rank == 0


def is_comm_error(error: BaseException) -> bool:
    """Whether ``error`` came from a collective (a peer died, hung or could not be reached)."""
    if isinstance(error, RnnlabError):
        return False
    if isinstance(error, dist.DistError):
        return True
    text = str(error)
    return isinstance(error, RuntimeError) and any(
        s in text for s in ("gloo", "NCCL", "Connection closed by peer", "Connection reset",
                            "Timed out waiting", "Broken pipe"))


def peer_error(group: Dist, error: BaseException, kept: str = "") -> TrainingError:
    """The TrainingError fit raises when a collective fails."""
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return TrainingError(
        f"process {group.rank} of {group.world_size} lost contact with the others: another "
        f"process died, or did not answer within the timeout ({TIMEOUT_ENV}, --dist-timeout); "
        f"training stopped{kept}. ({first[:300]})")


# --------------------------------------------------------------------------- set up, tear down


def init_distributed(*, timeout_s: float | None = None, device: str = "auto") -> Dist | None:
    """Join the job torchrun (or :func:`launch_local`) started; None when there is none.

    Picks NCCL when ``device`` resolves to CUDA (and binds this process to
    ``cuda:LOCAL_RANK``), else gloo. Rendezvous and every later collective give up after
    ``timeout_s``.

    Args:
        timeout_s: seconds; None: ``RNNLAB_DIST_TIMEOUT`` or 300.
        device: "auto", "cpu" or "cuda", as for ``FitConfig.device``.

    Returns:
        The group, or None when the environment holds no job or a job of one process
        (a group is still created then, so that torch code that expects one works).

    Raises:
        TrainingError: the rendezvous failed or timed out.
        ConfigError: torchrun's variables are malformed, or the timeout is.

    Example:
        >>> init_distributed() is None   # not started by a launcher
        True
    """
    env = detect_env()
    seconds = resolve_timeout(timeout_s)
    if env is None:
        return None
    if dist.is_initialized():
        return current()
    if not dist.is_available():
        raise TrainingError("this PyTorch build has no torch.distributed; cannot join the job")
    cuda = resolve_device(device).type == "cuda"
    backend = "nccl" if cuda else "gloo"
    kwargs = {}
    if cuda:
        if env.local_rank >= torch.cuda.device_count():
            raise ConfigError(f"process {env.rank} has LOCAL_RANK={env.local_rank} but this "
                              f"machine has {torch.cuda.device_count()} GPU(s); start at most "
                              "one process per GPU, or use --device cpu")
        torch.cuda.set_device(env.local_rank)
        kwargs["device_id"] = torch.device("cuda", env.local_rank)
    _import_group_defaults()
    try:
        dist.init_process_group(backend, init_method="env://", rank=env.rank,
                                world_size=env.world_size, timeout=timedelta(seconds=seconds),
                                **kwargs)
    except (RuntimeError, ValueError, OSError) as e:
        raise TrainingError(
            f"process {env.rank} of {env.world_size} could not join the job at "
            f"{env.master_addr}:{env.master_port} ({backend}) within {seconds:g} s: "
            f"{str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__}") from e
    logger.info("joined job: rank %d of %d (local rank %d), backend %s, timeout %g s",
                env.rank, env.world_size, env.local_rank, backend, seconds)
    return current()


def _import_group_defaults() -> None:
    """Import torch modules whose default arguments capture the default group, before it exists.

    ``torch.distributed.nn`` declares ``def broadcast(tensor, src, group=group.WORLD)`` and
    friends: the default is evaluated on import. torch imports it lazily (``torch._dynamo``,
    which the first ``optimizer.step()`` imports, pulls it in), so imported after
    ``init_process_group`` those defaults hold the live group forever and
    ``destroy_process_group`` can no longer free it. Its gloo worker threads then outlive
    Python: one that drops its last work (a tensor with a Python object) after interpreter
    finalization began tries to take the GIL, is made to exit inside a noexcept C++ frame,
    and the process dies with SIGABRT ("terminate called without an active exception").
    Imported now, the defaults are None and shutdown joins every gloo thread.
    """
    import torch.distributed.nn  # noqa: F401


def shutdown() -> None:
    """Leave the process group if this process is in one (safe to call twice)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


@contextlib.contextmanager
def distributed_session(*, timeout_s: float | None = None,
                        device: str = "auto") -> Iterator[Dist | None]:
    """``init_distributed`` on entry, ``shutdown`` on exit, on success and on error.

    Example:
        >>> with distributed_session() as group:   # None outside a launcher
        ...     group is None
        True
    """
    group = init_distributed(timeout_s=timeout_s, device=device)
    try:
        yield group
    finally:
        shutdown()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _environ(updates: Mapping[str, str]) -> Iterator[None]:
    # The elastic agent copies os.environ into each worker; set, then restore.
    saved = {k: os.environ.get(k) for k in updates}
    os.environ.update(updates)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def _signal_handlers() -> Iterator[None]:
    # The launcher installs its own handlers in this process; give the caller's back.
    names = [n for n in ("SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT") if hasattr(signal, n)]
    saved = {n: signal.getsignal(getattr(signal, n)) for n in names}
    try:
        yield
    finally:
        for n, handler in saved.items():
            if handler is not None:
                signal.signal(getattr(signal, n), handler)


def launch_local(nproc: int, argv: Sequence[str], *, module: str = "rnnlab",
                 timeout_s: float | None = None, threads: int | None = None,
                 env: Mapping[str, str] | None = None) -> None:
    """Run ``python -m <module> <argv>`` in ``nproc`` local processes, as torchrun would.

    Uses torch's elastic launcher with a static rendezvous on 127.0.0.1 and a free port:
    nothing listens beyond loopback. When any process fails the launcher stops the
    others (SIGTERM) and this raises.

    Args:
        nproc: processes to start (>= 1).
        argv: the command line each runs (``["train", "classify", ...]``).
        module: the module run with ``python -m``.
        timeout_s: rendezvous and collective timeout, passed on as ``RNNLAB_DIST_TIMEOUT``.
        threads: CPU threads per process (``OMP_NUM_THREADS``); None: cores / nproc.
        env: extra environment variables for the processes.

    Raises:
        TrainingError: a process failed; names its rank and exit code.

    Example:
        >>> launch_local(2, ["train", "classify", "--max-steps", "5"])  # doctest: +SKIP
    """
    from torch.distributed.elastic.multiprocessing import DefaultLogsSpecs, SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    if isinstance(nproc, bool) or not isinstance(nproc, int) or nproc < 1:
        raise ConfigError(f"nproc={nproc!r} is not allowed; give an integer >= 1")
    seconds = resolve_timeout(timeout_s)
    if threads is None:
        threads = max(1, (os.cpu_count() or 1) // nproc)
    port = free_port()
    updates = {TIMEOUT_ENV: f"{seconds:g}", "OMP_NUM_THREADS": str(threads),
               **dict(env or {})}
    with tempfile.TemporaryDirectory(prefix="rnnlab-launch-") as logs, _environ(updates), \
            _signal_handlers():
        config = LaunchConfig(
            min_nodes=1, max_nodes=1, nproc_per_node=nproc, run_id=f"rnnlab-{port}",
            rdzv_backend="static", rdzv_endpoint=f"127.0.0.1:{port}",
            rdzv_configs={"rank": 0, "timeout": max(1, math.ceil(seconds))},
            max_restarts=0, monitor_interval=0.1, local_addr="127.0.0.1",
            logs_specs=DefaultLogsSpecs(log_dir=logs), shutdown_timeout=5)
        logger.info("starting %d processes: python -m %s %s", nproc, module, " ".join(argv))
        try:
            elastic_launch(config, sys.executable)("-m", module, *argv)
        except SignalException as e:
            if e.sigval == signal.SIGINT:
                raise KeyboardInterrupt from e
            raise TrainingError(f"the launcher received {e.sigval.name}; all {nproc} "
                                "processes were stopped") from e
        except ChildFailedError as e:
            rank, failure = e.get_first_failure()
            code = failure.exitcode
            how = f"was killed by {failure.signal_name()}" if code < 0 else f"exited with {code}"
            raise TrainingError(f"process {rank} of {nproc} {how}; the job stopped (the "
                                f"others were shut down); see the messages above") from e


def run_training(fn: Callable[[], T], *, nproc: int = 1, argv: Sequence[str] = (),
                 timeout_s: float | None = None, device: str = "auto",
                 threads: int | None = None) -> T | None:
    """What ``rnnlab train ...`` runs: launch, join or just train.

    * ``nproc > 1`` outside a launcher: start ``nproc`` local processes running
      ``python -m rnnlab <argv>`` (:func:`launch_local`) and wait; returns None.
    * Inside a launcher (torchrun, or one of those processes): join the job, call ``fn``,
      leave the group (also on error); ``nproc`` is ignored.
    * Otherwise: call ``fn`` in this process.

    Args:
        fn: the training command, called with no arguments.
        nproc: local processes to start (``--nproc``).
        argv: this command line (``sys.argv[1:]``), given to each process.
        timeout_s: collective timeout (``--dist-timeout``).
        device: ``--device``; picks NCCL for CUDA, else gloo.
        threads: CPU threads per started process (``--threads``).

    Returns:
        ``fn()``'s result in a process that trained, None in the launching one.
    """
    if isinstance(nproc, bool) or not isinstance(nproc, int) or nproc < 1:
        raise ConfigError(f"nproc={nproc!r} is not allowed; give an integer >= 1")
    if nproc > 1 and detect_env() is None:
        launch_local(nproc, argv, timeout_s=timeout_s, threads=threads)
        return None
    with distributed_session(timeout_s=timeout_s, device=device):
        return fn()
