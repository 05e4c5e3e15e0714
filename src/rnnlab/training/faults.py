"""Fault injection for tests: a hook that tests install, called at named points of training.

The library calls :func:`point` right after each optimizer step (``"step"``) and at each
stage of a checkpoint write (``"before_write"``, ``"mid_write"``, ``"before_replace"``,
``"after_replace"``). Nothing happens unless a test installed a hook; the library never
reads the environment for this. A test that wants a child process killed at step 7
installs the hook in the child's own bootstrap code::

    from rnnlab.training import faults
    faults.install(faults.kill_at("step:7"))   # SIGKILL right after optimizer step 7
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable

from rnnlab.errors import ConfigError

logger = logging.getLogger(__name__)

POINTS = ("before_write", "mid_write", "before_replace", "after_replace", "step")
Hook = Callable[[str, int], None]

_hook: Hook | None = None


def install(fn: Hook | None) -> None:
    """Call ``fn(point, step)`` at every fault point from now on; None removes the hook."""
    global _hook
    _hook = fn


def uninstall() -> None:
    """Remove the installed hook (a no-op when there is none)."""
    install(None)


def point(name: str, step: int) -> None:
    """Reached fault point ``name`` at optimizer step ``step``: run the hook, if any."""
    if _hook is not None:
        _hook(name, step)


def kill_at(spec: str) -> Hook:
    """A hook that SIGKILLs this process at ``"POINT"`` or ``"POINT:STEP"``.

    Args:
        spec: one of :data:`POINTS`, optionally with ``:STEP`` (only at that step).

    Example:
        >>> hook = kill_at("mid_write:6")
        >>> hook("mid_write", 5)   # another step: nothing happens
    """
    name, _, at = spec.partition(":")
    if name not in POINTS or (at and not at.isdigit()):
        raise ConfigError(f"fault spec {spec!r} is not allowed; give POINT or POINT:STEP with "
                          f"POINT one of: {', '.join(POINTS)}")

    def hook(reached: str, step: int) -> None:
        if reached == name and (not at or int(at) == step):
            logger.warning("fault %s: killing process %d", spec, os.getpid())
            os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))

    return hook
