"""Old path of :mod:`rnnlab.nn.losses`, kept importable.

The name is bound to the very same module object, so that private names and monkeypatches
through ``rnnlab.losses`` still reach the code that runs.
"""

import sys

from rnnlab.nn import losses as _module

sys.modules[__name__] = _module
