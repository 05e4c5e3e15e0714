"""Config is data: frozen dataclasses whose fields say how they appear on the command line.

Every component's settings are one frozen dataclass (``FitConfig``, ``Word2VecConfig``, a
task's data and model parts). A field declared with :func:`option` carries what the CLI
needs to offer it as a flag: the flag's name and aliases, help, choices and how an
``"auto"`` default resolves. ``rnnlab.cli`` builds every parser from these fields, so a
field added here appears on the command line with no second edit, and the CLI names the
flag (``--units``) when the library rejects a value of field ``hidden``.

    @dataclass(frozen=True)
    class ModelPart:
        hidden: int = option(32, flag="--units", help="recurrent units")
        cell: str = option("gru", choices=("rnn", "lstm", "gru"), help="the cell")

Saved configs are read back strictly: :func:`from_dict` refuses keys the dataclass does
not know, naming them and the known ones, so a typo never passes silently.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, dataclass
from typing import Any

from rnnlab.errors import ConfigError

_KEY = "rnnlab"


@dataclass(frozen=True)
class Option:
    """What the command line needs to know about one config field.

    Attributes:
        flag: the long flag (``"--units"``); None: ``--`` + the field name with dashes.
        aliases: more accepted spellings (``("--num-units",)``).
        help: one line for ``--help`` (the default is appended by the CLI).
        choices: the allowed values, shown in ``--help`` and checked by argparse.
        metavar: the placeholder in ``--help``.
        auto: how an ``"auto"`` default resolves, for ``--help`` ("irnn for rnn, ...").
        cli: False keeps the field off the command line (set by code, not by users).
        resumable: a value that may change on ``--resume`` (epochs, patience, ...).
    """

    flag: str | None = None
    aliases: tuple[str, ...] = ()
    help: str = ""
    choices: tuple[Any, ...] | None = None
    metavar: str | None = None
    auto: str | None = None
    cli: bool = True
    resumable: bool = False


_PLAIN = Option(cli=False)


def option(default: Any = MISSING, *, flag: str | None = None, aliases: Sequence[str] = (),
           help: str = "", choices: Sequence[Any] | None = None, metavar: str | None = None,
           auto: str | None = None, cli: bool = True, resumable: bool = False,
           default_factory: Any = MISSING) -> Any:
    """A dataclass field with command-line metadata (see :class:`Option`).

    Example:
        >>> @dataclass(frozen=True)
        ... class Part:
        ...     hidden: int = option(32, flag="--units", help="recurrent units")
        >>> flag_of(Part, "hidden")
        '--units'
    """
    meta = {_KEY: Option(flag=flag, aliases=tuple(aliases), help=help,
                         choices=None if choices is None else tuple(choices),
                         metavar=metavar, auto=auto, cli=cli, resumable=resumable)}
    if default_factory is not MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def option_of(field: dataclasses.Field) -> Option:
    """The field's :class:`Option`; a plain field is set by code, not on the command line."""
    return field.metadata.get(_KEY, _PLAIN)


def flag_of(cls: type, name: str) -> str:
    """The long flag of field ``name`` of dataclass ``cls`` (``"--batch-size"``)."""
    for f in dataclasses.fields(cls):
        if f.name == name:
            return option_of(f).flag or "--" + name.replace("_", "-")
    raise KeyError(name)


def field_type(cls: type, field: dataclasses.Field) -> tuple[type, bool]:
    """The field's base type and whether it admits None (``int | None`` -> (int, True))."""
    hint = typing.get_type_hints(cls)[field.name]
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        base = rest[0] if len(rest) == 1 else str
        return (tuple if typing.get_origin(base) is tuple else base), type(None) in args
    if typing.get_origin(hint) is tuple:
        return tuple, False
    return (hint if isinstance(hint, type) else str), False


def is_config(obj: Any) -> bool:
    """Whether ``obj`` is a dataclass type or instance."""
    return dataclasses.is_dataclass(obj)


def to_dict(config: Any) -> dict:
    """The config as plain JSON-able data, nested parts as nested dicts."""
    return dataclasses.asdict(config)


def from_dict(cls: type, data: Mapping[str, Any], *, where: str | None = None) -> Any:
    """Build ``cls`` from saved data, refusing unknown keys; nested parts recurse.

    Args:
        cls: a dataclass type whose fields may themselves be dataclass types.
        data: a mapping of field names to values, as ``to_dict`` wrote it.
        where: what the data is, for messages ("config.json's fit").

    Raises:
        ConfigError: a key ``cls`` does not have, or a value its checks refuse.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where or cls.__name__}: expected an object, got {data!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    check_keys(data, fields, where or cls.__name__)
    hints = typing.get_type_hints(cls)
    values = {}
    for name, value in data.items():
        hint = hints[name]
        if isinstance(hint, type) and dataclasses.is_dataclass(hint) and value is not None:
            value = from_dict(hint, value, where=f"{where or cls.__name__}.{name}")
        elif isinstance(value, list) and typing.get_origin(hint) is tuple:
            value = tuple(value)
        values[name] = value
    return cls(**values)


def check_keys(given: Mapping[str, Any] | Sequence[str], known: Mapping[str, Any] | Sequence[str],
               where: str) -> None:
    """Raise ConfigError naming the keys of ``given`` that ``known`` lacks."""
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise ConfigError(f"{where}: unknown setting(s) {', '.join(map(repr, unknown))}; "
                          f"known: {', '.join(sorted(known))}")


def replace(config: Any, **changes: Any) -> Any:
    """``dataclasses.replace`` that refuses unknown names with a ConfigError."""
    check_keys(changes, [f.name for f in dataclasses.fields(config)], type(config).__name__)
    return dataclasses.replace(config, **changes)
