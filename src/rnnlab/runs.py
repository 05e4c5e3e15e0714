"""The 0.1.0 path of run folders and ``load_run``, re-exported from their new homes.

The folder (``RunDir``, its JSON and CSV helpers, ``claim_run``, ``load_weights``) lives in
:mod:`rnnlab.training.runfolder`; ``load_run`` in :mod:`rnnlab.tasks.runner`. A custom job
registers how to rebuild its model, in the one task registry::

    @register_task("toy")
    def _load(run: RunDir, config: dict, device: torch.device):
        model = MyModel(**config["model"])
        load_weights(run, model, device=device)
        return model
"""

from __future__ import annotations

from rnnlab._fs import atomic_write_bytes  # noqa: F401
from rnnlab.tasks.base import _TASKS as _TASK_LOADERS  # noqa: F401  (the one registry)
from rnnlab.tasks.base import register_task, registered_tasks  # noqa: F401
from rnnlab.tasks.runner import load_run  # noqa: F401
from rnnlab.training.runfolder import (  # noqa: F401
    BEST,
    CONFIG,
    CURVES,
    LAST,
    METRICS_CSV,
    METRICS_JSON,
    RunDir,
    _json_safe,
    _number,
    claim_run,
    load_weights,
    read_json,
    write_json_atomic,
)
