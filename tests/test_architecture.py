"""The layers of docs/architecture.md: no module imports a layer above its own."""

from __future__ import annotations

import ast
from pathlib import Path

import rnnlab

SRC = Path(rnnlab.__file__).resolve().parent

# Lowest first. A module's layer is that of its top-level name under rnnlab.
LAYERS = [
    {"errors", "config", "_fs"},
    {"nn", "vectors", "text", "_text_kernels", "data", "plots"},
    {"models", "baselines"},
    {"training", "word2vec"},  # the two trainers: fit's loop, and word2vec's rounds
    {"tasks"},
    {"export", "report"},  # what is made of finished runs: deployable graphs, HTML reports
    {"cli", "cli_config", "cli_commands", "cli_export", "cli_report", "__init__", "__main__"},
]
# Old module paths kept as thin re-exports of the new homes: nothing imports them.
SHIMS = {"rnn", "cells", "wrappers", "_lstm_kernel", "_rnn_kernel", "convert", "losses",
         "embeddings", "plots_forecast", "train", "checkpoint", "runs", "distributed",
         "runtime", "word2vec_dist", "_w2v_kernels"}


def _layer(top: str) -> int:
    for i, names in enumerate(LAYERS):
        if top in names:
            return i
    raise AssertionError(f"rnnlab.{top} is in no layer of docs/architecture.md")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return {name.split(".")[1] for name in found
            if name.startswith("rnnlab.") and name.count(".") >= 1}


def _modules():
    for path in sorted(SRC.rglob("*.py")):
        top = path.relative_to(SRC).parts[0].removesuffix(".py")
        if top not in SHIMS:
            yield top, path


def test_no_module_imports_a_higher_layer_or_an_old_path():
    problems = []
    for top, path in _modules():
        for name in _imports(path) - {top}:
            if name in SHIMS:
                problems.append(f"{path.relative_to(SRC)} imports the old path rnnlab.{name}")
            elif name in {m for layer in LAYERS for m in layer} and _layer(name) > _layer(top):
                problems.append(f"{path.relative_to(SRC)} (layer {_layer(top)}) imports "
                                f"rnnlab.{name} (layer {_layer(name)})")
    assert not problems, "\n".join(problems)


def test_old_paths_are_thin():
    for name in SHIMS:
        path = SRC / f"{name}.py"
        if path.exists():
            code = [line for line in path.read_text().splitlines()
                    if line.strip() and not line.lstrip().startswith("#")]
            assert len(code) <= 40, f"rnnlab/{name}.py should only re-export ({len(code)} lines)"


# Compiled kernels read as one loop nest; everything else fits on a screen or two.
KERNEL_MODULES = {"nn/lstm_kernel.py", "nn/rnn_kernel.py", "word2vec/kernels.py",
                  "_text_kernels.py"}
MAX_LINES = 120


def test_no_function_is_longer_than_about_a_screen():
    long = []
    for _, path in _modules():
        rel = str(path.relative_to(SRC))
        if rel in KERNEL_MODULES:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                doc = node.body[0] if node.body else None
                if isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant) \
                        and isinstance(doc.value.value, str):
                    lines -= doc.end_lineno - doc.lineno + 1  # the docstring does not count
                if lines > MAX_LINES:
                    long.append(f"{rel}:{node.lineno} {node.name} ({lines} lines)")
    assert not long, "\n".join(long)
