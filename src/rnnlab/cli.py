"""The ``rnnlab`` command line: parses arguments and dispatches to :mod:`rnnlab.tasks`.

No logic lives here beyond printing. Conventions every command follows:
``--seed``, ``--device {auto,cpu,cuda}``, ``--threads N``, ``--quiet``, ``--debug``;
every training command also takes ``--max-steps N`` (a tiny end-to-end run) and
``--out RUN_DIR``. Errors print one line and exit with status 2 (1 for a failure
inside training); ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
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
    return parser


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
