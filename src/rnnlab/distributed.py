"""Moved to :mod:`rnnlab.training.distributed`; this path stays importable as the same module."""

import sys

from rnnlab.training import distributed as _module

sys.modules[__name__] = _module
