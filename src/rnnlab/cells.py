"""Old path of :mod:`rnnlab.nn.cells`, kept importable.

The name is bound to the very same module object, so that private names and monkeypatches
through ``rnnlab.cells`` still reach the code that runs.
"""

import sys

from rnnlab.nn import cells as _module

sys.modules[__name__] = _module
