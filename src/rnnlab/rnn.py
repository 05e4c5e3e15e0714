"""Old path of :mod:`rnnlab.nn.unroll`, kept importable.

The name is bound to the very same module object, so that private names and monkeypatches
through ``rnnlab.rnn`` still reach the code that runs. The fused backend's helpers now
live in :mod:`rnnlab.nn.fused`.
"""

import sys

from rnnlab.nn import unroll as _module

sys.modules[__name__] = _module
