"""The length planning shared by both sequence kernels, against hand-written layouts."""

from __future__ import annotations

import ast
from pathlib import Path

import torch

from rnnlab.nn import lengths
from rnnlab.nn.lengths import backward_chunks, plan_lengths, sorted_grad


def test_plan_matches_the_docstring_layout():
    # lengths 2 5 3 4 sort to 5 4 3 2 (positions 1, 3, 2, 0).
    plan = plan_lengths(5, 4, torch.tensor([2, 5, 3, 4]), "cpu")
    assert plan.steps == 5
    assert plan.n == [4, 4, 3, 2, 1]
    assert plan.offsets == [0, 4, 8, 12, 15, 17, 18]
    assert plan.perm.tolist() == [1, 3, 2, 0]
    assert plan.inverse.tolist() == [3, 0, 2, 1]
    assert (plan.gate_rows, plan.state_rows) == (17, 18)
    # Sequence 0 (length 2) ends in block 2, at its sorted position 3.
    assert plan.last_row.tolist() == [8 + 3, 17 + 0, 12 + 2, 15 + 1]


def test_full_lengths_need_no_sorting():
    for given in (None, torch.tensor([3, 3])):
        plan = plan_lengths(3, 2, given, "cpu")
        assert plan.perm is None and plan.n == [2, 2, 2]
        assert plan.offsets == [0, 2, 4, 6, 8]


def test_zero_lengths_plan_no_steps():
    plan = plan_lengths(4, 3, torch.tensor([0, 0, 0]), "cpu")
    assert plan.steps == 0 and plan.n == [] and plan.offsets == [0, 3]


def test_backward_chunks_follow_chunk_rows(monkeypatch):
    off = [0, 4, 8, 12, 15, 17]  # five steps of 4, 4, 4, 3, 2 rows
    assert backward_chunks(off, 5) == [(0, 5)]
    monkeypatch.setattr(lengths, "CHUNK_ROWS", 5)
    assert backward_chunks(off, 5) == [(3, 5), (2, 3), (1, 2), (0, 1)]
    monkeypatch.setattr(lengths, "CHUNK_ROWS", 1)  # a step bigger than a chunk still runs
    assert backward_chunks(off, 5) == [(4, 5), (3, 4), (2, 3), (1, 2), (0, 1)]
    assert backward_chunks(off, 0) == []


def test_sorted_grad_orders_rows_like_the_plan():
    plan = plan_lengths(3, 3, torch.tensor([1, 3, 2]), "cpu")
    d = torch.tensor([[1.0], [3.0], [2.0]])
    assert sorted_grad(d, plan, 3, 1, d).flatten().tolist() == [3.0, 2.0, 1.0]
    assert sorted_grad(None, plan, 3, 2, d).tolist() == [[0.0, 0.0]] * 3


def test_rnn_kernel_no_longer_reaches_into_the_lstm_kernel():
    src = Path(lengths.__file__).with_name("rnn_kernel.py").read_text()
    imported = {node.module for node in ast.walk(ast.parse(src))
                if isinstance(node, ast.ImportFrom)}
    assert "rnnlab.nn.lengths" in imported
    assert not any("lstm_kernel" in (m or "") for m in imported)
