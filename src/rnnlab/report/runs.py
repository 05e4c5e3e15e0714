"""Many runs at once: ``rnnlab runs list`` (one line per run) and ``rnnlab runs compare``.

:func:`list_runs` finds every run folder under a folder (config.json, or a backtest's
backtest.json) and gives one :class:`RunRow` per run; :func:`compare_runs` lines up the
settings that differ and the final metrics, and :func:`comparison_html` draws their
curves overlaid on one self-contained page.
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from rnnlab.errors import ConfigError, RnnlabError
from rnnlab.report import run as runinfo
from rnnlab.report.html import figure, page, seconds, section, table
from rnnlab.report.run import RunInfo, read_run
from rnnlab.report.sections_common import NOT_CURVES
from rnnlab.report.svg import PALETTE, Series, line_chart

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunRow:
    """One line of ``rnnlab runs list``."""

    path: str
    task: str
    dataset: str
    model: str
    metric: str
    value: float | None
    epochs: int | None
    seconds: float | None
    status: str

    def line(self) -> str:
        """The row as text, columns separated by two spaces."""
        value = "-" if self.value is None else f"{self.value:.4f}"
        return "  ".join([self.path, self.task, self.dataset, self.model,
                          f"{self.metric}={value}", f"{self.epochs or 0} ep",
                          seconds(self.seconds), self.status])

    def to_json(self) -> dict:
        """The row as a JSON-able dict (``rnnlab runs list --json``)."""
        return asdict(self)


def find_runs(root: str | os.PathLike) -> list[Path]:
    """Every run folder under ``root`` (itself included), sorted by path."""
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(f"runs folder {str(root)!r} does not exist or is not a folder")
    found = []
    for folder, subfolders, files in os.walk(root):
        if "config.json" in files or "backtest.json" in files:
            found.append(Path(folder))
            subfolders.clear()  # a run's own folders (tensorboard/) hold no runs
        else:
            subfolders[:] = [d for d in subfolders if not d.startswith(".")]
    return sorted(found)


def row_of(info: RunInfo, root: Path) -> RunRow:
    """The list line of one run, its path relative to ``root``."""
    metric, value = runinfo.key_metric(info)
    rel = os.path.relpath(info.path, root)
    return RunRow(path=rel, task=info.kind, dataset=runinfo.dataset(info),
                  model=runinfo.model(info), metric=metric, value=value,
                  epochs=runinfo.epochs(info), seconds=runinfo.seconds(info),
                  status=runinfo.status(info))


def list_runs(root: str | os.PathLike = "runs") -> list[RunRow]:
    """One :class:`RunRow` per run folder under ``root``.

    Example:
        >>> for row in list_runs("runs"):                               # doctest: +SKIP
        ...     print(row.line())
        digits  classify  digits  gru 64x1  val_accuracy=0.9733  15 ep  21.4 s  finished
    """
    root = Path(root)
    rows = []
    for path in find_runs(root):
        try:
            rows.append(row_of(read_run(path), root))
        except RnnlabError as e:  # one damaged folder must not hide the others
            log.warning("%s: %s", path, e)
            rows.append(RunRow(os.path.relpath(path, root), "?", "?", "?", "-", None, None,
                               None, "unreadable"))
    return rows


def _flat(config: dict) -> dict[str, object]:
    """``{"model.units": 64, ...}`` of a run's composed config."""
    out = {}
    for part, values in (config.get("config") or {}).items():
        if isinstance(values, dict):
            for key, value in values.items():
                out[f"{part}.{key}"] = tuple(value) if isinstance(value, list) else value
    return out


def compare_runs(paths: list[str | os.PathLike]) -> dict:
    """The settings that differ between runs and their final metrics side by side.

    Args:
        paths: two or more run folders.

    Returns:
        ``{"runs": [path, ...], "differences": {setting: [value per run]},
        "metrics": {name: [value per run]}}``.
    """
    if len(paths) < 2:
        raise ConfigError(f"compare needs at least two runs; got {len(paths)}")
    infos = [read_run(p) for p in paths]
    flats = [_flat(i.config) for i in infos]
    keys = sorted({k for f in flats for k in f})
    differences = {k: [f.get(k) for f in flats] for k in keys
                   if len({repr(f.get(k)) for f in flats}) > 1}
    if len({i.kind for i in infos}) > 1:
        differences = {"task": [i.kind for i in infos], **differences}
    names = []
    for info in infos:
        names += [k for k, v in info.final.items()
                  if isinstance(v, int | float) and k not in NOT_CURVES and k not in names]
    metrics = {n: [i.final.get(n) for i in infos] for n in names}
    metrics["epochs"] = [runinfo.epochs(i) for i in infos]
    metrics["seconds"] = [runinfo.seconds(i) for i in infos]
    differences = {k: [list(v) if isinstance(v, tuple) else v for v in vals]
                   for k, vals in differences.items()}
    return {"runs": [str(i.path) for i in infos], "differences": differences,
            "metrics": metrics, "infos": infos}


def comparison_html(comparison: dict) -> str:
    """The comparison as one self-contained page: tables and overlaid curves."""
    infos: list[RunInfo] = comparison["infos"]
    labels = [f"{k + 1}: {Path(i.path).name}" for k, i in enumerate(infos)]
    runs = table(["#", "run", "task", "data", "model", "status"],
                 [[k + 1, str(i.path), i.kind, runinfo.dataset(i), runinfo.model(i),
                   runinfo.status(i)] for k, i in enumerate(infos)], numeric=False)
    diff_rows = [[k, *[_plain(v) for v in vals]] for k, vals in comparison["differences"].items()]
    diffs = (table(["setting", *labels], diff_rows, numeric=False) if diff_rows
             else "<p>The runs have the same settings.</p>")
    metric_rows = [[k, *vals] for k, vals in comparison["metrics"].items()]
    metrics = table(["metric", *labels], metric_rows,
                    attrs=[{"data-metric": k} for k in comparison["metrics"]])
    charts = []
    names = []
    for info in infos:
        names += [k for k in (info.rows[0] if info.rows else {})
                  if k not in NOT_CURVES and k not in names]
    for name in names:
        series = [Series(labels[k], [r.get("epoch") for r in i.rows],
                         [r.get(name) for r in i.rows], color=PALETTE[k % len(PALETTE)],
                         dashed=name.startswith("val_"))
                  for k, i in enumerate(infos) if i.rows and name in i.rows[0]]
        charts.append(figure(line_chart(series, x_label="epoch", title=name)))
    body = (section("Runs", runs) + section("Settings that differ", diffs)
            + section("Final metrics", metrics)
            + section("Curves", f'<div class="grid">{"".join(charts)}</div>' if charts else ""))
    return page(f"rnnlab: {len(infos)} runs compared",
                "Self-contained: it fetches nothing.", body)


def comparison_text(comparison: dict) -> str:
    """The comparison as aligned text columns (settings that differ, then metrics)."""
    names = [f"{k + 1}:{Path(p).name}" for k, p in enumerate(comparison["runs"])]
    rows = [["", *names]]
    rows += [[k, *[_plain(v) for v in vals]] for k, vals in comparison["differences"].items()]
    rows.append(["--", *["--"] * len(names)])
    rows += [[k, *[_plain(v) for v in vals]] for k, vals in comparison["metrics"].items()]
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
                     for r in rows)


def _plain(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, list | tuple):
        return ",".join(map(str, value)) or "none"
    return "none" if value is None else str(value)
