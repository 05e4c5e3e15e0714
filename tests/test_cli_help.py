"""What a person reads in --help: every flag shows its default."""

from __future__ import annotations

import argparse

from rnnlab.cli import build_parser


def _leaves(parser: argparse.ArgumentParser, path=("rnnlab",)):
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield " ".join(path), parser
        return
    for name, sub in subs[0].choices.items():
        if sub.prog.endswith(" " + name):  # an alias shares its parser: visit it once
            yield from _leaves(sub, (*path, name))


def test_every_flag_of_every_command_shows_its_default():
    missing = []
    for command, parser in _leaves(build_parser()):
        formatter = parser._get_formatter()
        for action in parser._actions:
            if not action.option_strings or isinstance(
                    action, argparse._HelpAction | argparse._VersionAction):
                continue
            if "default" not in formatter._get_help_string(action):
                missing.append(f"{command} {action.option_strings[0]}")
    assert not missing, "flags without a default in --help:\n" + "\n".join(missing)


def test_a_reader_that_leaves_early_is_not_an_error(monkeypatch, capsys):
    import rnnlab.cli_commands as commands
    from rnnlab import cli

    def closed_pipe(args):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(commands, "cmd_tour", closed_pipe)
    monkeypatch.setattr(cli, "cmd_tour", closed_pipe)
    monkeypatch.setattr("sys.stdout", __import__("io").StringIO())
    assert cli.main(["tour"]) == 0
    assert "internal error" not in capsys.readouterr().err
