"""``write_report``: one self-contained HTML file for a run, its sections chosen by its task.

The page is the common sections (overview, final metrics, curves, data, settings, time)
with the task's own in the middle, looked up by config.json's ``"task"`` in
:data:`TASK_SECTIONS` (a backtest folder and a vector file have kinds of their own)::

    overview | final metrics | TASK SECTIONS | curves | data | command and settings | time

Reading the folder and drawing its SVG takes milliseconds; the only images are the PNGs
the run already holds (curves, forecast plots), inlined as ``data:`` URIs.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from rnnlab._fs import atomic_write_bytes, write_json_atomic
from rnnlab.errors import ConfigError
from rnnlab.report import sections_common as common
from rnnlab.report.html import page
from rnnlab.report.run import RunInfo, read_run
from rnnlab.report.sections_classify import classifier_sections
from rnnlab.report.sections_forecast import (
    backtest_sections,
    backtest_summary,
    forecast_sections,
)
from rnnlab.report.sections_word2vec import word2vec_sections

logger = logging.getLogger(__name__)

REPORT = "report.html"
EVALUATIONS = "evaluations.json"

#: The task's own sections, by config.json's "task" (and "backtest", "word2vec").
TASK_SECTIONS: dict[str, Callable[[RunInfo], str]] = {
    "classify": classifier_sections,
    "text": classifier_sections,
    "forecast": forecast_sections,
    "backtest": lambda info: backtest_summary(info) + backtest_sections(info),
    "word2vec": word2vec_sections,
}


def render_report(run_dir: str | os.PathLike, **options) -> str:
    """The report of a run folder (or backtest folder, or vector file) as HTML text.

    Args:
        run_dir: what ``rnnlab train --out``, ``rnnlab backtest --out`` or
            ``rnnlab word2vec --out`` wrote.
        options: passed to the task's sections (word2vec: ``analogies=``, ``pairs=``).

    Returns:
        The whole HTML document.
    """
    info = read_run(run_dir)
    if options and info.kind != "word2vec":
        raise ConfigError(f"{', '.join(f'{k}={v!r}' for k, v in options.items())}: only a "
                          f"word2vec vector file's report scores test files, not a "
                          f"{info.kind} run's")
    own = TASK_SECTIONS.get(info.kind)
    task = own(info, **options) if own is not None else ""
    if info.kind in ("backtest", "word2vec"):
        body = task
    else:
        body = "".join([common.overview(info), common.final_metrics(info), task,
                        common.curves(info), common.data_summary(info),
                        common.settings(info), common.timing(info)])
    title = f"rnnlab {info.kind} report: {Path(info.path).name}"
    return page(title, "Made by rnnlab from the run's own files; self-contained: it fetches "
                       "nothing.", body)


def default_output(run_dir: str | os.PathLike) -> Path:
    """Where the report goes by default: RUN/report.html (beside a vector file: NAME.html)."""
    p = Path(run_dir)
    return p / REPORT if p.is_dir() else p.with_name(p.with_suffix("").name + ".report.html")


def write_report(run_dir: str | os.PathLike, out: str | os.PathLike | None = None,
                 **options) -> Path:
    """Write a run's self-contained HTML report; returns its path.

    Args:
        run_dir: a run folder (``rnnlab train``), a backtest folder (``rnnlab backtest
            --out``) or a word2vec vector file.
        out: the HTML file; None: ``RUN_DIR/report.html`` (``NAME.report.html`` beside
            a vector file).
        options: for the task's sections (word2vec: ``analogies=FILE``, ``pairs=FILE``).

    Returns:
        The path written.

    Example:
        >>> write_report("runs/digits")                                 # doctest: +SKIP
        PosixPath('runs/digits/report.html')
    """
    text = render_report(run_dir, **options)
    path = Path(out) if out is not None else default_output(run_dir)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, text.encode("utf-8"))
    logger.info("report: %s", path)
    return path


def record_evaluation(run_dir: str | os.PathLike, scores: dict) -> str:
    """Keep ``rnnlab evaluate``'s scores in ``evaluations.json`` (one entry per split,
    data and weights) so the report shows them; returns the entry's key."""
    run = Path(run_dir)
    data = scores.get("dataset") or scores.get("data") or "run's data"
    key = f"{scores.get('split', '?')} split of {data}, {scores.get('weights', 'best')} weights"
    info = read_run(run)
    write_json_atomic(run / EVALUATIONS, {**info.evaluations, key: scores})
    return key


def write_run_outputs(run) -> None:
    """What the report layer makes of a run when its training ends: report and model card.

    Registered with :func:`rnnlab.tasks.runner.add_finish_hook`; ``run`` is the ``RunDir``.
    """
    from rnnlab.report.card import write_model_card

    write_report(run.path)
    write_model_card(run.path)


def after_results(run_dir: str | os.PathLike) -> Path | None:
    """Rewrite a run's report after a command added results to it; never raises.

    Returns:
        The report's path, or None when it could not be written (a warning says why).
    """
    try:
        return write_report(run_dir)
    except Exception as e:  # the results are saved; a report that fails must not hide them
        logger.warning("could not write the report of %s: %s", run_dir, e)
        return None
