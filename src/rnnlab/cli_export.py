"""``rnnlab export RUN --format {onnx,torch-export} --out FILE``: a run's model as a file.

The file takes ``inputs``/``tokens`` and ``lengths`` with dynamic batch and time sizes and
carries its metadata (task, labels, scaler, ...) inside and in ``FILE.json`` beside it;
``rnnlab predict FILE ...`` runs it (onnxruntime for ``.onnx``) with the same flags and
output as ``rnnlab predict RUN``. See docs/deploy.md.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable


def add_export_parser(sub, common: Callable[[argparse.ArgumentParser],
                                            argparse.ArgumentParser]) -> None:
    """Register ``rnnlab export`` on the top-level subparsers ``sub``."""
    from rnnlab.export.runtime import FORMATS

    parser = common(sub.add_parser(
        "export", help="export a run's model to ONNX or torch.export (docs/deploy.md)",
        description="Write a trained run's model as one file that takes inputs (or tokens) "
                    "and lengths with any batch size and length: ONNX (run by onnxruntime; "
                    "rnnlab predict FILE.onnx takes the run folder's flags) or a "
                    "torch.export program (.pt2)."))
    parser.add_argument("run_dir", metavar="RUN_DIR")
    parser.add_argument("--format", choices=list(FORMATS), default="onnx",
                        help="the file's format")
    parser.add_argument("--out", default=None, metavar="FILE",
                        help="the file to write (default: RUN_DIR/model.onnx or model.pt2)")
    parser.add_argument("--weights", choices=["best", "last"], default="best",
                        help="the best epoch's weights or the last ones")
    parser.add_argument("--horizon", type=int, default=None, metavar="H",
                        help="forecast runs: values forecast in one call (default: the run's)")
    parser.set_defaults(handler=cmd_export, _parser=parser)


def cmd_export(args: argparse.Namespace) -> int:
    """``rnnlab export RUN``: write the run's model as one file; prints where (0 = done)."""
    from rnnlab.export.onnx import sidecar
    from rnnlab.export.runtime import export_run

    options = {} if args.horizon is None else {"horizon": args.horizon}
    path = export_run(args.run_dir, args.out, format=args.format, weights=args.weights,
                      **options)
    if not args.quiet:
        print(f"wrote {path} (metadata: {sidecar(path)})")
    return 0
