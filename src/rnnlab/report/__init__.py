"""What a finished run looks like: a self-contained HTML report, a model card, run lists.

* :func:`write_report` (``rnnlab report RUN``): one HTML file with the run's command and
  config, data summary, curves, final metrics and the task's own sections (confusion
  matrix and mistakes, forecasts with intervals and baselines, word neighbours), time and
  memory. It opens from disk and fetches nothing.
* :func:`write_model_card`: ``README.md`` in the run folder (data, licence, metrics, the
  command that reproduces the run).
* :func:`list_runs` / :func:`compare_runs` (``rnnlab runs list|compare``).

Importing this package registers :func:`~rnnlab.report.build.write_run_outputs` with the
task runner, so every run trained through ``rnnlab.tasks.train_run`` ends with its report
and model card written.

Example:
    >>> from rnnlab.report import write_report
    >>> write_report("runs/digits")                                     # doctest: +SKIP
    PosixPath('runs/digits/report.html')
"""

from __future__ import annotations

from rnnlab.report.build import (
    REPORT,
    TASK_SECTIONS,
    after_results,
    record_evaluation,
    render_report,
    write_report,
    write_run_outputs,
)
from rnnlab.report.card import model_card, reproduce_command, write_model_card
from rnnlab.report.run import RunInfo, read_run
from rnnlab.report.runs import (
    RunRow,
    compare_runs,
    comparison_html,
    comparison_text,
    list_runs,
)
from rnnlab.tasks.runner import add_finish_hook

add_finish_hook(write_run_outputs)

__all__ = ["REPORT", "TASK_SECTIONS", "RunInfo", "RunRow", "after_results", "compare_runs",
           "comparison_html", "comparison_text", "list_runs", "model_card", "read_run",
           "record_evaluation", "render_report", "reproduce_command", "write_model_card",
           "write_report", "write_run_outputs"]
