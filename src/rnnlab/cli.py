"""The ``rnnlab`` command line: parses arguments and dispatches to :mod:`rnnlab.tasks`.

No logic lives here beyond printing. Conventions every command follows:
``--seed``, ``--device {auto,cpu,cuda}``, ``--threads N``, ``--quiet``, ``--debug``;
every training command also takes ``--max-steps N`` (a tiny end-to-end run) and
``--out RUN_DIR``. Errors print one line and exit with status 2 (1 for a failure
inside training); ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from rnnlab.errors import RnnlabError

EXIT_USAGE = 2
EXIT_FAILURE = 1


def _common(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    g = parser.add_argument_group("common options")
    g.add_argument("--seed", type=int, default=42, help="random seed (default: 42)")
    g.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                   help="where to compute; auto picks CUDA when present (default: auto)")
    g.add_argument("--threads", type=int, default=None, metavar="N",
                   help="CPU threads for PyTorch (default: PyTorch's choice)")
    g.add_argument("--quiet", action="store_true", help="no progress bars or chatter")
    g.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (also used to render ``--help``)."""
    parser = argparse.ArgumentParser(
        prog="rnnlab",
        description="Recurrent sequence models and word embeddings on PyTorch.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    tour = _common(sub.add_parser(
        "tour", help="replay the notebook's walkthrough: manual, static and dynamic RNNs",
        description="Replay the notebook's first half with rnnlab and check that every way "
                    "of unrolling agrees."))
    tour.set_defaults(handler=_cmd_tour)

    train = sub.add_parser("train", help="train a model into a run folder",
                           description="Train a model; each job writes a run folder.")
    jobs = train.add_subparsers(dest="task", metavar="TASK", required=True)
    classify = _training(jobs.add_parser(
        "classify", help="classify images read row by row (MNIST, Fashion-MNIST, digits)",
        description="Read each image as a sequence of rows and classify it."), "classify")
    classify.add_argument("--dataset", default="digits",
                          choices=["digits", "mnist", "fashion-mnist"],
                          help="digits is embedded and works offline (default: digits)")
    classify.add_argument("--data-dir", help="folder holding the dataset's IDX files")
    classify.add_argument("--download", action="store_true",
                          help="download missing files (SHA-256 checked)")
    classify.add_argument("--model", default="rnn", choices=["rnn", "lstm", "gru", "bnmlp"])
    classify.add_argument("--units", type=int, default=100, help="units per layer (100)")
    classify.add_argument("--layers", type=int, default=1, help="recurrent layers (1)")
    classify.add_argument("--bidirectional", action="store_true")
    classify.add_argument("--dropout", type=float, default=0.0)
    classify.add_argument("--init", choices=["keras", "torch"], default="keras",
                          help="initial weights (default: keras, about 2 points better)")
    classify.add_argument("--val-size", type=int, default=None,
                          help="validation images from the end of the training split")
    _fit_options(classify, epochs=12, batch_size=150, lr=1e-3)
    classify.set_defaults(handler=_cmd_train_classify)

    evaluate = _common(sub.add_parser(
        "evaluate", help="score a trained run on a data split",
        description="Loss and accuracy of a run folder's model on a split (test by default)."))
    evaluate.add_argument("run_dir", metavar="RUN_DIR")
    evaluate.add_argument("--dataset", help="dataset to score on (default: the run's)")
    evaluate.add_argument("--data-dir", help="folder holding the data")
    evaluate.add_argument("--split", default="test", help="split to score (default: test)")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.set_defaults(handler=_cmd_evaluate)

    predict = _common(sub.add_parser(
        "predict", help="predict with a trained run",
        description="Predict classes: images (IDX or PNG files) for classify runs."))
    predict.add_argument("run_dir", metavar="RUN_DIR")
    predict.add_argument("files", nargs="*", metavar="FILE", help="IDX or PNG image files")
    predict.add_argument("--json", action="store_true", help="print one JSON object")
    predict.set_defaults(handler=_cmd_predict)
    return parser


def _training(parser: argparse.ArgumentParser, task: str) -> argparse.ArgumentParser:
    _common(parser)
    g = parser.add_argument_group("run folder")
    g.add_argument("--out", default=f"runs/{task}", metavar="RUN_DIR",
                   help=f"run folder (default: runs/{task})")
    g.add_argument("--resume", action="store_true", help="continue the run in --out")
    g.add_argument("--overwrite", action="store_true", help="start over in an existing --out")
    g.add_argument("--max-steps", type=int, default=None, metavar="N",
                   help="stop after N optimizer steps (a quick end-to-end check)")
    return parser


def _fit_options(parser: argparse.ArgumentParser, *, epochs: int, batch_size: int,
                 lr: float) -> None:
    g = parser.add_argument_group("training")
    g.add_argument("--epochs", type=int, default=epochs, help=f"(default: {epochs})")
    g.add_argument("--batch-size", type=int, default=batch_size,
                   help=f"(default: {batch_size})")
    g.add_argument("--lr", type=float, default=lr, help=f"learning rate (default: {lr:g})")
    g.add_argument("--optimizer", choices=["adam", "rmsprop", "sgd"], default="adam")
    g.add_argument("--schedule", choices=["none", "step", "cosine", "plateau"], default="none")
    g.add_argument("--clip-grad-norm", type=float, default=None, metavar="X")
    g.add_argument("--patience", type=int, default=None, metavar="N",
                   help="stop after N epochs without validation improvement")


def _fit_config(args: argparse.Namespace):
    from rnnlab.train import FitConfig

    return FitConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                     optimizer=args.optimizer, schedule=args.schedule,
                     clip_grad_norm=args.clip_grad_norm, patience=args.patience,
                     max_steps=args.max_steps, seed=args.seed, device=args.device)


def _callbacks(args: argparse.Namespace):
    from rnnlab.train import TqdmProgress

    return (TqdmProgress(quiet=args.quiet),)


def _print_history(history, run_dir) -> None:
    last = history.rows[-1] if history.rows else {}
    shown = ", ".join(f"{k}={v:.4f}" for k, v in last.items() if isinstance(v, float)
                      and k != "lr")
    print(f"trained {len(history.rows)} epoch(s), {history.step} steps: {shown}")
    if history.best is not None:
        print(f"best {history.monitor}={history.best:.4f} at epoch {history.best_epoch}")
    print(f"run folder: {run_dir}")


def _setup(args: argparse.Namespace) -> None:
    level = logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="%(message)s")
    if args.threads is not None:
        import torch

        if args.threads < 1:
            raise RnnlabError(f"--threads={args.threads} must be at least 1")
        torch.set_num_threads(args.threads)


def _cmd_tour(args: argparse.Namespace) -> int:
    from rnnlab.tasks.tour import run_tour

    for step in run_tour(seed=args.seed):
        print(f"== {step.title}\n{step.text}\n")
    return 0


def _cmd_train_classify(args: argparse.Namespace) -> int:
    from rnnlab.tasks.classify import ClassifyConfig, train_classify

    config = ClassifyConfig(dataset=args.dataset, data_dir=args.data_dir,
                            download=args.download, model=args.model, units=args.units,
                            layers=args.layers, bidirectional=args.bidirectional,
                            dropout=args.dropout, init=args.init, val_size=args.val_size)
    _, history = train_classify(config, _fit_config(args), run_dir=args.out,
                                callbacks=_callbacks(args), resume=args.resume,
                                overwrite=args.overwrite)
    _print_history(history, args.out)
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from rnnlab.tasks import evaluate_run

    scores = evaluate_run(args.run_dir, dataset=args.dataset, split=args.split,
                          data_dir=args.data_dir, device=args.device)
    if args.json:
        print(json.dumps(scores))
    else:
        for key, value in scores.items():
            print(f"{key}: {value:.4f}" if isinstance(value, float) else f"{key}: {value}")
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from rnnlab.tasks import predict_run

    rows = predict_run(args.run_dir, files=args.files, device=args.device)
    if args.json:
        print(json.dumps({"predictions": rows}))
    else:
        for row in rows:
            print("\t".join(f"{v:.4f}" if isinstance(v, float) else str(v) for v in row.values()))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 on success)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        _setup(args)
        return args.handler(args)
    except RnnlabError as exc:
        if args.debug:
            raise
        print(f"rnnlab: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE if isinstance(exc, RuntimeError) else EXIT_USAGE
    except KeyboardInterrupt:
        print("rnnlab: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
