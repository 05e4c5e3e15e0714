"""Training: the loop, strategies for one or many processes, checkpoints, run folders, callbacks.

    loop.py         fit (epochs, batches, metrics, callbacks) and evaluate
    config.py       FitConfig, its fields declared with their command-line flags
    strategy.py     SingleProcess / DataParallel: everything that differs with processes
    checkpoints.py  Checkpoints: start or resume a run, the one writer of its folder
    runfolder.py    RunDir, claim_run, JSON and CSV helpers
    callbacks.py    Callback, TqdmProgress, EpochLines
    metrics.py      accuracy and metric naming
    data.py, optim.py, state.py   batches; optimizer, schedule, monitor; TrainState, History
    faults.py       the fault-injection hook tests install
    checkpoint_file.py, distributed.py, runtime.py   the file format, process groups, devices

Training knows nothing about models: ``fit`` takes any ``nn.Module``.
"""

from rnnlab.training.callbacks import Callback, EpochLines, TqdmProgress, epoch_line
from rnnlab.training.config import CHECKPOINT_UNITS, OPTIMIZERS, SCHEDULES, FitConfig
from rnnlab.training.loop import evaluate, fit
from rnnlab.training.metrics import accuracy
from rnnlab.training.optim import make_optimizer
from rnnlab.training.runfolder import RunDir, claim_run
from rnnlab.training.state import History, TrainState
from rnnlab.training.strategy import DataParallel, SingleProcess, detect

__all__ = [
    "CHECKPOINT_UNITS", "OPTIMIZERS", "SCHEDULES", "Callback", "DataParallel", "EpochLines",
    "FitConfig", "History", "RunDir", "SingleProcess", "TqdmProgress", "TrainState",
    "accuracy", "claim_run", "detect", "epoch_line", "evaluate", "fit", "make_optimizer",
]
