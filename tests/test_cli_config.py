"""Flags generated from config dataclasses, and library errors in the flags' words."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

import pytest

from rnnlab.cli_config import add_config_flags, flag_words, in_flag_words, typed_overrides
from rnnlab.config import from_dict, option
from rnnlab.errors import ConfigError


@dataclass(frozen=True)
class Data:
    path: str = option("x.csv", help="the file")
    limit: int | None = option(None, help="rows to read")
    code_only: int = 3  # no option(): set by code, never a flag


@dataclass(frozen=True)
class Model:
    hidden: int = option(32, flag="--units", aliases=("--num-units",), help="units")
    cell: str = option("gru", choices=("rnn", "gru"), help="the cell")
    bidirectional: bool = option(False, help="both ways")
    bias: bool = option(True, help="add biases")
    rate: float = option(0.5, help="a rate")


@dataclass(frozen=True)
class Toy:
    data: Data = field(default_factory=Data)
    model: Model = field(default_factory=Model)


def _parser():
    parser = argparse.ArgumentParser(prog="toy")
    flags = add_config_flags(parser, Toy, Toy())
    return parser, flags


def test_every_option_field_becomes_a_flag_and_plain_fields_do_not():
    _, flags = _parser()
    assert flags == {"--path": ("data", "path"), "--limit": ("data", "limit"),
                     "--units": ("model", "hidden"), "--cell": ("model", "cell"),
                     "--bidirectional": ("model", "bidirectional"),
                     "--bias": ("model", "bias"), "--rate": ("model", "rate")}


def test_only_typed_flags_come_back_with_their_types():
    parser, _ = _parser()
    args = parser.parse_args(["--num-units", "8", "--limit", "none", "--bidirectional",
                              "--no-bias", "--rate", "0.1"])
    assert typed_overrides(args) == {"data": {"limit": None},
                                     "model": {"hidden": 8, "bidirectional": True,
                                               "bias": False, "rate": 0.1}}
    assert typed_overrides(parser.parse_args([])) == {}


def test_choices_and_types_are_checked_by_the_parser(capsys):
    parser, _ = _parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["--cell", "lstm"])
    assert "invalid choice: 'lstm'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parser.parse_args(["--units", "many"])
    assert "invalid int value: 'many'" in capsys.readouterr().err


def test_help_shows_every_default():
    parser, _ = _parser()
    text = " ".join(parser.format_help().split())
    for shown in ("the file (default: x.csv)", "rows to read (default: none)",
                  "units (default: 32)", "both ways (default: off)", "(default: on)",
                  "a rate (default: 0.5)", "the cell (default: gru)"):
        assert shown in text, shown


def test_two_fields_wanting_one_flag_is_a_bug_caught_at_build_time():
    @dataclass(frozen=True)
    class Clash:
        data: Data = field(default_factory=Data)
        other: Data = field(default_factory=Data)

    with pytest.raises(ValueError, match="--path"):
        add_config_flags(argparse.ArgumentParser(), Clash, Clash())


def test_library_messages_are_rewritten_in_flag_words():
    table = flag_words([Toy], {"resume": "--resume", "overwrite": "--overwrite"})
    assert table["hidden"] == "--units" and "code_only" not in table
    message = "runs/x already holds a run; pass resume=True or overwrite=True; hidden=0 bad"
    assert in_flag_words(message, table) == (
        "runs/x already holds a run; pass --resume or --overwrite; --units=0 bad")
    # Only whole names followed by '=' change, never words inside other words or quotes.
    assert in_flag_words("unhidden=1 'hidden=2' path", table) == "unhidden=1 'hidden=2' path"


def test_saved_configs_with_unknown_keys_are_refused():
    assert from_dict(Toy, {"model": {"hidden": 4}}).model.hidden == 4
    with pytest.raises(ConfigError, match=r"'hiden'.*known: bias, bidirectional"):
        from_dict(Toy, {"model": {"hiden": 4}})
