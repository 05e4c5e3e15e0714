"""Old path of :mod:`rnnlab.plots.forecast`, kept importable.

The name is bound to the very same module object, so that monkeypatches through
``rnnlab.plots_forecast`` still reach the code that runs.
"""

import sys

from rnnlab.plots import forecast as _module

sys.modules[__name__] = _module
