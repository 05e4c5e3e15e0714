"""The CLI's conventions, run in-process."""

from __future__ import annotations

import pytest

from rnnlab import cli


def test_tour_prints_every_step_and_agreement(capsys):
    assert cli.main(["tour", "--seed", "42", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    for title in ("Manual RNN", "Static unrolling", "Dynamic unrolling",
                  "Setting the sequence length", "All ways agree"):
        assert f"== {title}" in out
    assert "shape (4, 2, 5)" in out


def test_tour_is_reproducible(capsys):
    cli.main(["tour", "--seed", "7"])
    first = capsys.readouterr().out
    cli.main(["tour", "--seed", "7"])
    assert capsys.readouterr().out == first


def test_help_and_unknown_command_exit_with_usage(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["tour", "--help"])
    assert info.value.code == 0
    assert "--device" in capsys.readouterr().out
    with pytest.raises(SystemExit) as info:
        cli.main(["nonsense"])
    assert info.value.code == 2


def test_errors_print_one_line_without_traceback(capsys):
    assert cli.main(["tour", "--threads", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rnnlab: error: --threads=0") and "Traceback" not in err
