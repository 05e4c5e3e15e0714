"""Moved to :mod:`rnnlab.training.checkpoint_file` (the safetensors checkpoint format).

This path stays importable; fault injection moved to :mod:`rnnlab.training.faults`.
"""

from rnnlab.training.checkpoint_file import (  # noqa: F401
    _EXTRA,
    _MODEL,
    _OPTIM,
    _RNG,
    FORMAT,
    FORMAT_VERSION,
    Checkpoint,
    CheckpointError,
    NonFiniteError,
    _decode,
    _digest,
    _encode,
    _read_metadata,
    capture_rng_state,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)
from rnnlab.training.faults import POINTS as FAULT_POINTS  # noqa: F401
from rnnlab.training.faults import point as fault_point  # noqa: F401
