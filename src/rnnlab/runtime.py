"""Moved to :mod:`rnnlab.training.runtime`; this path stays importable as the same module."""

import sys

from rnnlab.training import runtime as _module

sys.modules[__name__] = _module
