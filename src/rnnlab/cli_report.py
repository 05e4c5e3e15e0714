"""``rnnlab report`` and ``rnnlab runs list|compare``: parsers and what they print.

    rnnlab report runs/digits                      # -> runs/digits/report.html
    rnnlab report runs/digits --out digits.html
    rnnlab runs list runs                          # one line per run under runs/
    rnnlab runs compare runs/a runs/b --html ab.html

Registered from :mod:`rnnlab.cli` by :func:`add_parsers`; the report itself is
:mod:`rnnlab.report`'s. ``--json`` prints one compact object (a list for ``runs list``).
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Callable
from pathlib import Path

import rnnlab.report  # noqa: F401  (registers the report and model card with the runner)

logger = logging.getLogger(__name__)


def add_parsers(sub, common: Callable[[argparse.ArgumentParser], argparse.ArgumentParser]
                ) -> None:
    """Add ``report`` and ``runs`` to the CLI's subcommands (``common``: the shared flags)."""
    report = common(sub.add_parser(
        "report", help="write a run's self-contained HTML report",
        description="One HTML file with the run's command and config, data summary, "
                    "training curves, final metrics, the task's own sections (confusion "
                    "matrix, forecasts, neighbours), time and memory. It opens from disk "
                    "and fetches nothing (docs/reports.md)."))
    report.add_argument("run_dir", metavar="RUN",
                        help="a run folder, a backtest folder or a word2vec vector file")
    report.add_argument("--out", default=None, metavar="FILE.html",
                        help="where to write (default: RUN/report.html)")
    report.add_argument("--analogies", default=None, metavar="FILE",
                        help="word2vec: score a questions-words.txt-format file")
    report.add_argument("--pairs", default=None, metavar="FILE",
                        help="word2vec: score a WordSim353/SimLex-format file")
    report.add_argument("--json", action="store_true", help="print {\"report\": PATH}")
    report.set_defaults(handler=cmd_report)

    runs = sub.add_parser("runs", help="list and compare run folders",
                          description="List the runs under a folder, or compare runs.")
    action = runs.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = common(action.add_parser(
        "list", help="one line per run: path, task, data, model, key metric, epochs, time, "
                     "status"))
    listing.add_argument("root", nargs="?", default="runs", metavar="DIR",
                         help="the folder holding the runs (default: runs)")
    listing.add_argument("--json", action="store_true", help="print one JSON list")
    listing.set_defaults(handler=cmd_runs_list)
    compare = common(action.add_parser(
        "compare", help="settings that differ and final metrics side by side"))
    compare.add_argument("runs", nargs="+", metavar="RUN")
    compare.add_argument("--html", default=None, metavar="FILE",
                         help="also write a self-contained page with the curves overlaid")
    compare.add_argument("--json", action="store_true", help="print one JSON object")
    compare.set_defaults(handler=cmd_runs_compare)


def _compact(obj) -> str:
    return json.dumps(obj, separators=(",", ":"), allow_nan=True)


def cmd_report(args: argparse.Namespace) -> int:
    """``rnnlab report RUN``: write the run's HTML report; prints its path."""
    from rnnlab.report import write_report

    options = {k: getattr(args, k) for k in ("analogies", "pairs") if getattr(args, k)}
    path = write_report(args.run_dir, args.out, **options)
    print(_compact({"report": str(path)}) if args.json else f"report: {path}")
    return 0


def cmd_runs_list(args: argparse.Namespace) -> int:
    """``rnnlab runs list [DIR]``: one line (or JSON object) per run folder under DIR."""
    from rnnlab.report import list_runs

    rows = list_runs(args.root)
    if args.json:
        print(_compact([r.to_json() for r in rows]))
    elif rows:
        print("\n".join(r.line() for r in rows))
    else:
        print(f"no runs under {args.root}")
    return 0


def cmd_runs_compare(args: argparse.Namespace) -> int:
    """``rnnlab runs compare RUN...``: config differences and metrics side by side."""
    from rnnlab._fs import atomic_write_bytes
    from rnnlab.report import compare_runs, comparison_html, comparison_text

    comparison = compare_runs(args.runs)
    if args.html:
        Path(args.html).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(args.html, comparison_html(comparison).encode("utf-8"))
    if args.json:
        print(_compact({k: v for k, v in comparison.items() if k != "infos"}
                       | ({"html": args.html} if args.html else {})))
        return 0
    print(comparison_text(comparison))
    if args.html:
        print(f"written: {args.html}")
    return 0


def after_evaluate(run_dir: str, scores: dict) -> None:
    """Keep ``rnnlab evaluate``'s scores in the run and rewrite its report; never raises."""
    from rnnlab.report import after_results, record_evaluation

    try:
        record_evaluation(run_dir, scores)
    except OSError as e:  # a read-only run folder: the scores were printed all the same
        logger.warning("could not keep the scores in %s: %s", run_dir, e)
        return
    after_results(run_dir)

