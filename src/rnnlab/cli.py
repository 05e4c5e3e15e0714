"""The ``rnnlab`` command line: parses arguments and dispatches to :mod:`rnnlab.cli_commands`.

The train, evaluate and predict flags are generated from the task configs
(:mod:`rnnlab.cli_config`); library errors are reworded in the flags' terms here, once.
Conventions every command follows:
``--seed``, ``--device {auto,cpu,cuda}``, ``--threads N``, ``--quiet``, ``--debug``;
every training command also takes ``--max-steps N`` (a tiny end-to-end run) and
``--out RUN_DIR``. Errors print one line and exit with status 2 (1 for a failure
inside training); ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Sequence

from rnnlab.cli_commands import (
    cmd_analogy,
    cmd_backtest,
    cmd_evaluate,
    cmd_forecast,
    cmd_neighbours,
    cmd_predict,
    cmd_tour,
    cmd_train_task,
    cmd_vectors_evaluate,
    cmd_word2vec,
)
from rnnlab.cli_export import add_export_parser
from rnnlab.cli_report import add_parsers as add_report_parsers
from rnnlab.errors import RnnlabError

EXIT_USAGE = 2
EXIT_FAILURE = 1


def _common(parser: argparse.ArgumentParser, *, train: bool = False) -> argparse.ArgumentParser:
    g = parser.add_argument_group("common options")
    # A training command's seed and device are fit settings; untyped, they stay unset so
    # that --resume keeps the run's own.
    seed = {"dest": "fit.seed", "default": argparse.SUPPRESS} if train else {"default": 42}
    device = {"dest": "fit.device", "default": argparse.SUPPRESS} if train else {
        "default": "auto"}
    g.add_argument("--seed", type=int, metavar="N", help="random seed (default: 42)", **seed)
    g.add_argument("--device", choices=["auto", "cpu", "cuda"],
                   help="where to compute; auto picks CUDA when present (default: auto)",
                   **device)
    g.add_argument("--threads", type=int, default=None, metavar="N",
                   help="CPU threads for PyTorch (default: PyTorch's choice)")
    g.add_argument("--quiet", action="store_true", help="no progress bars or chatter")
    g.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (also used to render ``--help``)."""
    from rnnlab import __version__

    parser = argparse.ArgumentParser(
        prog="rnnlab",
        description="Recurrent sequence models and word embeddings on PyTorch.",
    )
    parser.add_argument("--version", action="version", version=f"rnnlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    tour = _common(sub.add_parser(
        "tour", help="replay the notebook's walkthrough: manual, static and dynamic RNNs",
        description="Replay the notebook's first half with rnnlab and check that every way "
                    "of unrolling agrees."))
    tour.set_defaults(handler=cmd_tour)

    train = sub.add_parser("train", help="train a model into a run folder",
                           description="Train a model; each job writes a run folder.")
    jobs = train.add_subparsers(dest="task", metavar="TASK", required=True)
    _task_parser(jobs, "classify")

    _task_parser(jobs, "forecast")

    show = _common(sub.add_parser(
        "forecast", help="score a forecasting run on held-out data, with baselines",
        description="Held-out MSE/MAE of a forecasting run beside persistence, seasonal "
                    "naive and linear AR baselines; plots the multi-step forecast."))
    show.add_argument("run_dir", metavar="RUN_DIR")
    show.add_argument("--steps", type=int, default=None, help="multi-step forecast length")
    show.add_argument("--plot", default=None, metavar="PNG", help="write the forecast plot")
    show.add_argument("--json", action="store_true", help="print one JSON object")
    show.set_defaults(handler=cmd_forecast)
    _backtest_parser(sub)

    _task_parser(jobs, "text")

    w2v = _common(sub.add_parser(
        "word2vec", help="train word vectors (skip-gram or CBOW) on text files or folders",
        description="Train word2vec on text files (one sentence or document per line, "
                    ".gz allowed) or folders of .txt files, streamed; write the vectors in "
                    "word2vec text or binary format."))
    w2v.add_argument("corpus", nargs="+", metavar="CORPUS")
    w2v.add_argument("--out", required=True, metavar="VECTORS", help="vector file to write")
    w2v.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    w2v.add_argument("--binary", action="store_true", help="word2vec binary format")
    _word2vec_flags(w2v)
    w2v.add_argument("--nproc", type=int, default=1, metavar="N",
                     help="train on N local processes, one thread each (docs/distributed.md)")
    w2v.add_argument("--dist-timeout", type=float, default=None, metavar="SECONDS",
                     help="how long a process waits for the others (default: "
                          "$RNNLAB_DIST_TIMEOUT or 300)")
    w2v.set_defaults(handler=cmd_word2vec)

    vectors = sub.add_parser("vectors", help="use word vectors: neighbours, analogies, "
                             "evaluation", description="Query and evaluate word vectors.")
    vsub = vectors.add_subparsers(dest="action", metavar="ACTION", required=True)
    near = _common(vsub.add_parser("neighbours", help="nearest words by cosine"))
    near.add_argument("vectors_file", metavar="VECTORS")
    near.add_argument("word")
    near.add_argument("--topn", type=int, default=10)
    near.set_defaults(handler=cmd_neighbours)
    ana = _common(vsub.add_parser("analogy", help="A is to B as C is to ? (B - A + C)"))
    ana.add_argument("vectors_file", metavar="VECTORS")
    ana.add_argument("a", metavar="A")
    ana.add_argument("b", metavar="B")
    ana.add_argument("c", metavar="C")
    ana.add_argument("--method", choices=["3cosadd", "3cosmul"], default="3cosadd")
    ana.add_argument("--topn", type=int, default=5)
    ana.set_defaults(handler=cmd_analogy)
    ev = _common(vsub.add_parser("evaluate", help="analogy accuracy and word-pair Spearman"))
    ev.add_argument("vectors_file", metavar="VECTORS")
    ev.add_argument("--analogies", help="a questions-words.txt-format file")
    ev.add_argument("--pairs", help="a WordSim353/SimLex-format file")
    ev.add_argument("--restrict-vocab", type=int, default=30000,
                    help="analogies: only the most frequent N words (30000, as gensim)")
    ev.add_argument("--json", action="store_true", help="print one JSON object")
    ev.set_defaults(handler=cmd_vectors_evaluate)

    _evaluate_parser(sub)
    _predict_parser(sub)
    add_report_parsers(sub, _common)
    add_export_parser(sub, _common)
    _show_defaults(parser)
    return parser


class _DefaultsFormatter(argparse.HelpFormatter):
    """Appends ``(default: X)`` to every flag's help that does not say its default."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or not action.option_strings or action.default in (
                argparse.SUPPRESS,) or isinstance(action, argparse._HelpAction):
            return text
        if action.required:
            return f"{text} (required; no default)"
        value = action.default
        shown = ("off" if value is False else "on" if value is True else
                 "none" if value is None or value == [] else str(value))
        return f"{text} (default: {shown.replace('%', '%%')})".strip()


def _show_defaults(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = _DefaultsFormatter
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _show_defaults(sub)


def _training(parser: argparse.ArgumentParser, task: str, *,
              generated: bool = False) -> argparse.ArgumentParser:
    if not generated:
        _common(parser)
    g = parser.add_argument_group("run folder")
    g.add_argument("--out", default=None, metavar="RUN_DIR",
                   help="run folder (default: runs/ + the command's task name, e.g. "
                        f"runs/{task})")
    g.add_argument("--resume", action="store_true", help="continue the run in --out")
    g.add_argument("--overwrite", action="store_true", help="start over in an existing --out")
    steps = {"dest": "fit.max_steps", "default": argparse.SUPPRESS} if generated else {
        "default": None}
    g.add_argument("--max-steps", type=int, metavar="N",
                   help="stop after N optimizer steps, a quick end-to-end check "
                        "(default: none)", **steps)
    g = parser.add_argument_group("several processes (data-parallel; docs/distributed.md)")
    g.add_argument("--nproc", type=int, default=1, metavar="N",
                   help="train on N local processes; --batch-size stays the global batch "
                        "(default: 1; leave it out under torchrun)")
    g.add_argument("--dist-timeout", type=float, default=None, metavar="SECONDS",
                   help="stop when another process is silent this long "
                        "(default: $RNNLAB_DIST_TIMEOUT or 300)")
    return parser


def _setup(args: argparse.Namespace) -> None:
    from rnnlab.training.distributed import is_main_process

    level = logging.WARNING if args.quiet or not is_main_process() else logging.INFO
    logging.basicConfig(level=level, format="%(message)s")
    if args.threads is not None:
        import torch

        if args.threads < 1:
            raise RnnlabError(f"--threads={args.threads} must be at least 1")
        torch.set_num_threads(args.threads)


def _run_train(args: argparse.Namespace) -> int:
    """A train command here, under torchrun, or on --nproc local processes."""
    from rnnlab.training.distributed import run_training

    device = getattr(args, "fit.device", getattr(args, "device", "auto"))
    status = run_training(lambda: args.handler(args), nproc=args.nproc, argv=args.argv,
                          timeout_s=args.dist_timeout, device=device,
                          threads=args.threads)
    return 0 if status is None else status


def _backtest_parser(sub) -> None:
    """``rnnlab backtest``: rolling-origin backtests; flags generated from BacktestConfig."""
    from rnnlab.cli_config import add_config_flags
    from rnnlab.tasks.forecast_backtest import BacktestConfig

    parser = _common(sub.add_parser(
        "backtest", help="rolling-origin backtest of the global forecaster and baselines",
        description="Train the global forecaster on the values before each origin (as "
                    "statsforecast's cross_validation places them) and score it beside "
                    "naive, seasonal naive, drift and linear AR: MAE, RMSE, sMAPE, MASE, "
                    "interval coverage and pinball loss."), train=True)
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="write backtest.json, metrics.md, backtest.png and report.html "
                             "here (default: nothing written)")
    parser.add_argument("--json", action="store_true",
                        help="print one compact JSON object (metrics and forecasts), last")
    add_config_flags(parser, BacktestConfig, BacktestConfig(), seen={"--seed", "--device"})
    parser.set_defaults(handler=cmd_backtest, _parser=parser)


def _word2vec_flags(parser: argparse.ArgumentParser) -> None:
    from rnnlab.cli_config import add_part_flags
    from rnnlab.word2vec import Word2VecConfig

    add_part_flags(parser, Word2VecConfig, Word2VecConfig(), "word2vec")


def _task_parser(jobs, name: str) -> argparse.ArgumentParser:
    """``rnnlab train NAME``: run-folder flags plus one flag per field of the task's config."""
    from rnnlab.cli_config import add_config_flags
    from rnnlab.tasks import get_task

    task = get_task(name)
    parser = jobs.add_parser(name, aliases=list(task.aliases), help=task.help,
                             description=task.description)
    _common(parser, train=True)
    _training(parser, name, generated=True)
    add_config_flags(parser, task.config_type, task.default_config(),
                     seen={"--seed", "--device", "--max-steps"})
    parser.set_defaults(handler=cmd_train_task, task_name=task.name, _parser=parser)
    return parser


def _data_flags(parser: argparse.ArgumentParser, seen: set[str] | None = None) -> None:
    """Every task's data flags, so ``evaluate``/``predict`` take what ``train`` took."""
    from rnnlab.cli_config import add_config_flags
    from rnnlab.tasks import all_tasks

    seen = set() if seen is None else seen
    for task in all_tasks():
        if hasattr(task, "config_type"):
            add_config_flags(parser, task.config_type, task.default_config(),
                             parts=("data",), seen=seen)


def _evaluate_parser(sub) -> None:
    evaluate = _common(sub.add_parser(
        "evaluate", help="score a trained run on a data split",
        description="Loss, accuracy, per-class scores and the confusion matrix of a run's "
                    "model: on the test split where the data has one, else on the run's "
                    "validation part; data flags as for train replace the run's data."))
    evaluate.add_argument("run_dir", metavar="RUN_DIR")
    evaluate.add_argument("--split", choices=["train", "val", "test"], default=None,
                          help="split to score (default: test where the data has one, "
                               "else val)")
    _weights_and_json(evaluate)
    _data_flags(evaluate)
    evaluate.set_defaults(handler=cmd_evaluate, _parser=evaluate)


def _predict_parser(sub) -> None:
    predict = _common(sub.add_parser(
        "predict", help="predict with a trained run",
        description="Predict classes: image files (IDX, PNG) for classify runs, texts for "
                    "text runs."))
    predict.add_argument("run_dir", metavar="RUN_DIR")
    predict.add_argument("files", nargs="*", metavar="FILE",
                         help="classify runs: IDX or PNG image files")
    predict.add_argument("--text", action="append", default=[],
                         help="text runs: a text to classify (repeatable)")
    predict.add_argument("--input", help="text runs: a CSV/JSONL/.txt file of texts, or - "
                         "to read one text per line from standard input")
    predict.add_argument("--top-k", type=int, default=None, metavar="K",
                         help="print the K most likely labels with their probabilities")
    _weights_and_json(predict)
    _data_flags(predict, seen={"--input"})
    predict.set_defaults(handler=cmd_predict, _parser=predict)


def _weights_and_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", choices=["best", "last"], default="best",
                        help="the best epoch's weights or the last ones (default: best)")
    parser.add_argument("--json", action="store_true",
                        help="print JSON (one compact object on one line) instead of text")


def _flag_table() -> dict[str, str]:
    """Python names the library uses in messages -> the CLI's flags."""
    from rnnlab.cli_config import flag_words
    from rnnlab.tasks import all_tasks

    extra = {"resume": "--resume", "overwrite": "--overwrite", "run_dir": "--out", "out": "--out",
             "nproc": "--nproc", "timeout_s": "--dist-timeout", "threads": "--threads",
             "weights": "--weights", "split": "--split", "analogies": "--analogies",
             "pairs": "--pairs"}
    from rnnlab.word2vec import Word2VecConfig

    configs = [t.config_type for t in all_tasks() if hasattr(t, "config_type")]
    return flag_words(configs, extra, parts=(Word2VecConfig,))


def _in_flag_words(message: str) -> str:
    from rnnlab.cli_config import in_flag_words

    try:
        return in_flag_words(message, _flag_table())
    except Exception:  # the message matters more than its wording
        return message


def _resume_hint(args: argparse.Namespace) -> str:
    if getattr(args, "command", None) != "train" or not getattr(args, "out", None):
        return ""
    return f"; continue with: rnnlab train {args.task} --resume --out {args.out}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 on success)."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args, extras = parser.parse_known_args(argv)
    if extras:  # in the words of the subcommand that was given them
        getattr(args, "_parser", parser).error(f"unrecognized arguments: {' '.join(extras)}")
    args.argv = argv
    try:
        _setup(args)
        if args.command == "train":
            return _run_train(args)
        return args.handler(args)
    except RnnlabError as exc:
        if args.debug:
            raise
        print(f"rnnlab: error: {_in_flag_words(str(exc))}", file=sys.stderr)
        return EXIT_FAILURE if isinstance(exc, RuntimeError) else EXIT_USAGE
    except KeyboardInterrupt:
        print(f"rnnlab: interrupted{_resume_hint(args)}", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `rnnlab ... | head`: the reader left; not an error of ours
        if sys.stdout is sys.__stdout__:  # so that the flush at exit does not complain
            with contextlib.suppress(OSError, ValueError):
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
                os.close(devnull)
        return 0
    except Exception as exc:  # a bug, not the user's input: one line, the rest with --debug
        if args.debug:
            raise
        print(f"rnnlab: internal error: {type(exc).__name__}: {exc} (rerun with --debug for "
              "the traceback, and please report it)", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
