"""Where and how computation runs: device choice, seeding and CPU threads.

These are the few process-wide settings rnnlab touches. Library functions never call
them on their own (except ``fit``, which documents that it reseeds torch's RNG); the
CLI and the task modules call them once, at the start of a command.
"""

from __future__ import annotations

import logging
import random

import numpy as np
import torch

from rnnlab.errors import ConfigError, choice_error

logger = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """Turn ``"auto"``, ``"cpu"`` or ``"cuda"`` (or ``"cuda:N"``) into a ``torch.device``.

    ``"auto"`` picks CUDA when a GPU is visible and the CPU otherwise.

    Args:
        name: the device requested, as on the command line, or a ``torch.device``.

    Returns:
        The device to put models and batches on.

    Raises:
        ConfigError: the name is not one of the choices, or CUDA was asked for on a
            machine without a usable GPU.

    Example:
        >>> resolve_device("cpu")
        device(type='cpu')
    """
    if isinstance(name, torch.device):
        name = str(name)
    if not isinstance(name, str):
        raise choice_error("device", name, DEVICES)
    base, _, index = name.partition(":")
    if base not in DEVICES or (index and (base != "cuda" or not index.isdigit())):
        raise choice_error("device", name, DEVICES)
    if base == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        logger.debug("device auto -> %s", device)  # a detail: shown with --debug only
        return device
    if base == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(
                f"device={name!r} was asked for but CUDA is not available on this machine "
                f"(torch {torch.__version__}, built with CUDA: {torch.version.cuda}); "
                "use --device cpu or --device auto"
            )
        if index and int(index) >= torch.cuda.device_count():
            raise ConfigError(
                f"device={name!r} does not exist; this machine has "
                f"{torch.cuda.device_count()} CUDA device(s)"
            )
    return torch.device(name)


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global RNG and torch (CPU and every CUDA device).

    Call it once before building a model so that its initial weights repeat.

    Args:
        seed: a non-negative integer.

    Example:
        >>> seed_everything(0); a = torch.rand(2)
        >>> seed_everything(0); bool((a == torch.rand(2)).all())
        True
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed={seed!r} is not allowed; give a non-negative integer")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def set_threads(n: int | None) -> int:
    """Set how many CPU threads torch uses inside one operation; None leaves it as is.

    Args:
        n: a positive number of threads, or None.

    Returns:
        The number of threads torch now uses.
    """
    if n is not None:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ConfigError(f"threads={n!r} is not allowed; give a positive integer")
        torch.set_num_threads(n)
    return torch.get_num_threads()
