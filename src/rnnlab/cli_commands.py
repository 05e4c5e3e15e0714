"""What each ``rnnlab`` command does once its flags are parsed: call the library, print.

The parser (:mod:`rnnlab.cli`) maps flags onto configs and dispatches here; nothing in this
module parses. Results go to standard output (``--json``: one compact object on one line),
progress and notes to standard error.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from rnnlab.errors import RnnlabError


def callbacks(args: argparse.Namespace):
    from rnnlab.training import TqdmProgress

    return (TqdmProgress(quiet=args.quiet),)



def print_history(history, run_dir) -> None:
    from rnnlab.training.distributed import is_main_process

    if not is_main_process():  # one summary per job, from rank 0
        return
    last = history.rows[-1] if history.rows else {}
    shown = ", ".join(f"{k}={v:.4f}" for k, v in last.items() if isinstance(v, float)
                      and k not in ("lr", "seconds"))
    print(f"trained {len(history.rows)} epoch(s), {history.step} steps: {shown}")
    if history.best is not None:
        print(f"best {history.monitor}={history.best:.4f} at epoch {history.best_epoch}")
    print(f"run folder: {run_dir}")



def cmd_tour(args: argparse.Namespace) -> int:
    from rnnlab.tasks.tour import run_tour

    tour = run_tour(seed=args.seed)
    for step in tour:
        print(f"== {step.title}\n{step.text}\n")
    tour.check()  # a difference past the tolerance is an error: exit status 1
    return 0



def print_forecast(scores: dict) -> None:
    from rnnlab.training.distributed import is_main_process

    if not is_main_process():
        return
    if "mse" not in scores:  # a global model's: a one-origin backtest, and its forecasts
        print_panel_forecast(scores)
        return
    print(f"held-out mse={scores['mse']:.5f} mae={scores['mae']:.5f} ({scores['steps']}-step "
          f"forecast after each of {scores['windows']} {scores.get('split', 'test')} windows)")
    if "next_step_mse" in scores:
        std = scores.get("scaler", {}).get("std", 1.0)
        scaled = (f", of scaled values (multiply them by std^2 = {std * std:.5g} to compare)"
                  if std != 1.0 else "")
        n = scores.get("next_step_windows", scores["windows"])
        print(f"  next-step mse={scores['next_step_mse']:.5f}: one step ahead at every "
              f"position of the run's {n} windows (window + horizon values, whatever "
              f"--steps); training's loss and val_loss are the same error on the training "
              f"and validation windows{scaled}")
    for name, base in scores.get("baselines", {}).items():
        print(f"  baseline {name}: mse={base['mse']:.5f} mae={base['mae']:.5f}")
    if not scores.get("beats_persistence", True):
        print("  the model does NOT beat persistence (last value) on this series")



def print_panel_forecast(scores: dict) -> None:
    from rnnlab.tasks.forecast_backtest import metrics_table

    if "metrics" in scores:
        print(f"test: the last {scores['horizon']} values of {scores['windows']} of "
              f"{scores['series']} series, beside the baselines")
        print(metrics_table(scores["metrics"]))
    if "forecast_file" in scores:
        print(f"the next {scores['horizon']} values of every series: "
              f"{scores['forecast_file']}")


def cmd_forecast(args: argparse.Namespace) -> int:
    from rnnlab.tasks.forecast import evaluate_forecast

    scores = evaluate_forecast(args.run_dir, args.steps, plot=args.plot, device=args.device)
    from rnnlab.report import after_results

    after_results(args.run_dir)  # evaluation.json and the plots were rewritten
    if args.json:
        print(compact(scores))
    else:
        print_forecast(scores)
    return 0



def cmd_backtest(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rnnlab.cli_config import typed_overrides
    from rnnlab.tasks.base import apply_overrides
    from rnnlab.tasks.forecast import ForecastTask
    from rnnlab.tasks.forecast_backtest import BacktestConfig, metrics_table, write_backtest

    if args.out is not None and Path(args.out).exists() and not Path(args.out).is_dir():
        raise RnnlabError(f"--out={args.out} is a file; give a folder")
    config = apply_overrides(BacktestConfig(), typed_overrides(args))
    training_log = logging.getLogger("rnnlab.training")
    level = training_log.level
    if not args.debug:  # one line per epoch of every fit would drown the table
        training_log.setLevel(logging.WARNING)
    bar = None
    if not args.quiet and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=config.backtest.windows, desc="origins", unit="origin",
                   file=sys.stderr)
    try:
        result = ForecastTask().backtest(
            config, progress=None if bar is None else (lambda done, total: bar.update(1)))
    finally:
        training_log.setLevel(level)  # in-process callers (tests) keep their logging
        if bar is not None:
            bar.close()
    if args.out is not None:
        from rnnlab.report import after_results

        write_backtest(result, args.out)
        after_results(args.out)  # a report that fails warns; the backtest is saved
    if args.json:
        print(compact(result.to_json()))
        return 0
    print(f"{len(result.panel)} series, {config.backtest.windows} origin(s), horizon "
          f"{config.backtest.horizon}, {result.freq or 'no'} frequency, season "
          f"{result.season}: {result.seconds:.1f} s")
    print(metrics_table(result.metrics))
    if args.out is not None:
        print(f"written: {args.out}/backtest.json, metrics.md, backtest.png")
    return 0



def cmd_word2vec(args: argparse.Namespace) -> int:
    from rnnlab.cli_config import typed_overrides
    from rnnlab.tasks.word2vec import run_word2vec, summary_line
    from rnnlab.training.distributed import is_main_process
    from rnnlab.word2vec import TqdmWord2VecProgress, Word2VecConfig

    typed = typed_overrides(args).get("word2vec", {})
    config = Word2VecConfig(**typed, seed=args.seed)
    wv, history = run_word2vec(
        args.corpus, config, args.out, binary=args.binary, overwrite=args.overwrite,
        nproc=args.nproc, timeout_s=args.dist_timeout,
        progress=TqdmWord2VecProgress(quiet=args.quiet))
    if is_main_process():
        print(summary_line(wv, history, args.out))
    return 0



def cmd_neighbours(args: argparse.Namespace) -> int:
    from rnnlab.vectors import most_similar

    for word, score in most_similar(load_vectors(args.vectors_file), args.word,
                                    topn=args.topn):
        print(f"{word}\t{score:.4f}")
    return 0



def cmd_analogy(args: argparse.Namespace) -> int:
    from rnnlab.vectors import analogy

    for word, score in analogy(load_vectors(args.vectors_file), args.a, args.b, args.c,
                               method=args.method, topn=args.topn):
        print(f"{word}\t{score:.4f}")
    return 0



def cmd_vectors_evaluate(args: argparse.Namespace) -> int:
    from rnnlab.vectors import evaluate_vectors

    if not (args.analogies or args.pairs):
        raise RnnlabError("give --analogies FILE and/or --pairs FILE to evaluate against")
    scores = evaluate_vectors(load_vectors(args.vectors_file), args.analogies, args.pairs,
                              restrict_vocab=args.restrict_vocab)
    if args.json:
        print(compact(scores))
    else:
        for key, value in scores.items():
            print(f"{key}: {value}")
    return 0



def cmd_train_task(args: argparse.Namespace) -> int:
    from rnnlab.cli_config import typed_overrides
    from rnnlab.tasks import train_run

    args.out = args.out or f"runs/{args.task}"  # as typed: "sentiment" keeps runs/sentiment
    result = train_run(args.task_name, None, args.out, overrides=typed_overrides(args),
                       resume=args.resume, overwrite=args.overwrite,
                       callbacks=callbacks(args), command=["rnnlab", *args.argv])
    print_history(result.history, args.out)
    if result.extras.get("evaluation") is not None:
        print_forecast(result.extras["evaluation"])
    return 0



def cmd_evaluate(args: argparse.Namespace) -> int:
    from rnnlab.cli_config import typed_overrides
    from rnnlab.tasks import evaluate_run

    scores = evaluate_run(args.run_dir, data=typed_overrides(args).get("data", {}),
                          split=args.split, weights=args.weights, device=args.device)
    from rnnlab.cli_report import after_evaluate

    after_evaluate(args.run_dir, scores)  # kept in the run, shown in its report
    if args.json:
        print(compact(scores))
        return 0
    for key, value in scores.items():
        if key in ("per_class", "confusion_matrix", "labels"):
            continue
        print(f"{key}: {value:.4f}" if isinstance(value, float) else f"{key}: {value}")
    if "per_class" in scores:
        print(f"{'label':<16} precision  recall      f1  support")
        for label, row in scores["per_class"].items():
            print(f"{label:<16} {row['precision']:9.4f} {row['recall']:7.4f} "
                  f"{row['f1']:7.4f} {row['support']:8d}")
    return 0



def cmd_predict(args: argparse.Namespace) -> int:
    from rnnlab.cli_config import typed_overrides
    from rnnlab.tasks import predict_run

    top_k = args.top_k
    if top_k is not None and top_k < 1:
        args._parser.error(f"argument --top-k: {top_k} is not allowed; give an integer >= 1")
    inputs = {"files": args.files, "text": args.text, "input": args.input}
    data = typed_overrides(args).get("data")
    if data:  # predict --dataset FILE (classify), the same data flags as train
        inputs["data"] = data
    if args.input == "-":  # one text per line, read once: the model loads once for all
        from rnnlab.data.texts import texts_from_lines

        inputs = {**inputs, "input": None,
                  "text": list(args.text) + texts_from_lines(sys.stdin.buffer.read())}
    from rnnlab.export.runtime import is_exported, predict_file

    if is_exported(args.run_dir):  # a FILE.onnx / FILE.pt2 that rnnlab export wrote
        rows = predict_file(args.run_dir, inputs=inputs)
    else:
        rows = predict_run(args.run_dir, inputs=inputs, weights=args.weights,
                           device=args.device)
    if top_k is not None:
        for row in rows:
            ranked = sorted(row.get("probabilities", {}).items(), key=lambda kv: -kv[1])
            row["top_k"] = [{"label": k, "probability": p} for k, p in ranked[:top_k]]
    out = []
    if args.json:
        out = [compact(row) for row in rows]
    else:
        skip = ("probabilities", "top_k", "label", "probability") if top_k else ("probabilities",)
        keys = [k for k in rows[0] if k not in skip] if rows else []
        out.append("\t".join(keys + (["top_k"] if top_k else [])))
        for row in rows:
            cells = [f"{row[k]:.4f}" if isinstance(row[k], float) else str(row[k]) for k in keys]
            if top_k:
                cells.append("  ".join(f"{t['label']} {t['probability']:.4f}"
                                       for t in row["top_k"]))
            out.append("\t".join(cells))
    sys.stdout.write("\n".join(out) + ("\n" if out else ""))
    return 0



def compact(obj) -> str:
    return json.dumps(obj, separators=(",", ":"), allow_nan=True)


def load_vectors(path: str):
    from rnnlab.vectors import load_pretrained

    return load_pretrained(path)
