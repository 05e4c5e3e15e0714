"""Old path of :mod:`rnnlab.nn.rnn_kernel`, kept importable.

The name is bound to the very same module object, so that private names and monkeypatches
through ``rnnlab._rnn_kernel`` still reach the code that runs.
"""

import sys

from rnnlab.nn import rnn_kernel as _module

sys.modules[__name__] = _module
