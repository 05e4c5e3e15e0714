"""Command-line flags generated from config dataclasses, and errors in the flags' words.

Each part of a task's config (``data``, ``model``, ``fit``) becomes an argument group; each
field declared with :func:`rnnlab.config.option` becomes a flag whose type, choices, help
and default come from the field. Flags default to "not typed" (``argparse.SUPPRESS``), so
:func:`typed_overrides` gives exactly what the user typed: on ``--resume`` an untyped
flag keeps the run's saved value, never the parser's default.

The library raises errors in Python argument names (``epochs=-3``); :func:`in_flag_words`
rewrites them in the CLI's (``--epochs=-3``), once, from the same field metadata.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
from collections.abc import Iterable, Mapping
from typing import Any

from rnnlab.config import field_type, option_of

_NONE = "none"
_METAVARS = {int: "N", float: "X", str: "TEXT"}


def _parse_as(base: type, nullable: bool):
    def parse(text: str):
        if nullable and text.lower() == _NONE:
            return None
        return base(text)

    parse.__name__ = base.__name__  # argparse names the type in "invalid int value"
    return parse


def _show(value: Any) -> str:
    if value is None:
        return _NONE
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple | list):
        return ",".join(map(str, value)) or _NONE
    return f"{value:g}" if isinstance(value, float) else str(value)


def _help(opt, default: Any) -> str:
    text = opt.help or ""
    shown = _show(default)
    if opt.auto and (default == "auto" or default is None):
        shown = f"auto: {opt.auto}"
    text = f"{text} (default: {shown})" if text else f"(default: {shown})"
    return text.replace("%", "%%")  # argparse %-formats help strings


def add_config_flags(parser: argparse.ArgumentParser, config_type: type, defaults: Any,
                     *, parts: Iterable[str] | None = None, seen: set[str] | None = None
                     ) -> dict[str, tuple[str, str]]:
    """Add one flag per CLI field of each part of ``config_type``.

    Args:
        parser: the (sub)command's parser.
        config_type: a composed config dataclass (fields that are dataclasses are parts).
        defaults: an instance whose values ``--help`` shows as the defaults.
        parts: only these parts (e.g. ``("data",)`` for ``evaluate``); None: all.
        seen: flags already on the parser; a flag there is skipped (shared data flags).

    Returns:
        ``{flag: (part, field)}`` for the flags added.

    Raises:
        ValueError: two fields of the config want the same flag (a bug in the configs).
    """
    added: dict[str, tuple[str, str]] = {}
    seen = set() if seen is None else seen
    for part_name, part_type in _parts(config_type):
        if parts is None or part_name in parts:
            add_part_flags(parser, part_type, getattr(defaults, part_name), part_name,
                           seen=seen, added=added)
    return added


def add_part_flags(parser: argparse.ArgumentParser, part_type: type, defaults: Any,
                   part_name: str, *, seen: set[str] | None = None,
                   added: dict[str, tuple[str, str]] | None = None
                   ) -> dict[str, tuple[str, str]]:
    """Add the flags of one config dataclass as an argument group named after ``part_name``.

    The values land in the namespace as ``"PART.FIELD"``, only when typed.
    """
    added = {} if added is None else added
    seen = set() if seen is None else seen
    group = parser.add_argument_group(f"{part_name} options")
    for f in dataclasses.fields(part_type):
        opt = option_of(f)
        if not opt.cli:
            continue
        flag = opt.flag or "--" + f.name.replace("_", "-")
        if flag in added:
            raise ValueError(f"{part_type.__name__}: {flag} is wanted by "
                             f"{added[flag]} and {(part_name, f.name)}")
        if flag in seen:
            continue
        seen.add(flag)
        added[flag] = (part_name, f.name)
        group.add_argument(flag, *opt.aliases, **_argument(
            part_type, f, opt, getattr(defaults, f.name), f"{part_name}.{f.name}"))
    return added


def _argument(part_type: type, f: dataclasses.Field, opt, default: Any, dest: str) -> dict:
    kwargs: dict[str, Any] = {"dest": dest, "default": argparse.SUPPRESS,
                              "help": _help(opt, default)}
    base, nullable = field_type(part_type, f)
    if base is bool:
        kwargs["action"] = "store_true" if default is False else argparse.BooleanOptionalAction
        return kwargs
    if base is tuple:
        kwargs["type"] = lambda text: tuple(t for t in text.split(",") if t)
        kwargs["metavar"] = opt.metavar or "A,B"
        return kwargs
    kwargs["type"] = _parse_as(base, nullable)
    if opt.choices is not None:
        kwargs["choices"] = list(opt.choices)
    if opt.choices is None:
        kwargs["metavar"] = opt.metavar or _METAVARS.get(base, "TEXT")
    return kwargs


def _parts(config_type: type) -> list[tuple[str, type]]:
    from rnnlab.tasks.base import parts

    return parts(config_type)


def typed_overrides(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """``{part: {field: value}}`` for the config flags the user typed."""
    out: dict[str, dict[str, Any]] = {}
    for key, value in vars(args).items():
        if "." in key:
            part, name = key.split(".", 1)
            out.setdefault(part, {})[name] = value
    return out


def flag_words(config_types: Iterable[type], extra: Mapping[str, str] | None = None, *,
               parts: Iterable[type] = ()) -> dict[str, str]:
    """``{python name: flag}`` over every CLI field of the configs (first one wins).

    Args:
        config_types: composed configs (their parts' fields count).
        extra: names that are flags of no config (``resume`` -> ``--resume``).
        parts: plain config dataclasses whose own fields are flags (``Word2VecConfig``).
    """
    table: dict[str, str] = dict(extra or {})
    all_parts = [p for c in config_types for _, p in _parts(c)] + list(parts)
    for part_type in all_parts:
        for f in dataclasses.fields(part_type):
            opt = option_of(f)
            if opt.cli:
                table.setdefault(f.name, opt.flag or "--" + f.name.replace("_", "-"))
    return table


def in_flag_words(message: str, table: Mapping[str, str]) -> str:
    """Rewrite a library message's ``name=value`` as ``--flag=value``, ``name=True`` as ``--flag``.

    Example:
        >>> in_flag_words("pass resume=True or epochs=-3", {"resume": "--resume",
        ...                                                 "epochs": "--epochs"})
        'pass --resume or --epochs=-3'
    """
    if not table:
        return message
    names = "|".join(sorted(map(re.escape, table), key=len, reverse=True))
    pattern = re.compile(rf"(?<![\w.\-'\"])({names})=(True\b)?")

    def swap(m: re.Match) -> str:
        return table[m.group(1)] if m.group(2) else table[m.group(1)] + "="

    return pattern.sub(swap, message)
