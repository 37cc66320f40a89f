"""Lazy command registration: a command's module is imported only when that command runs.

``bastion --help`` lists every command from this table (name and one-line help) without
importing a single command module, so the help, ``--version`` and cheap commands such as
``config get`` start in the time it takes to import Typer. ``register`` is the one way to add a
command; the module behind it is imported when the command is resolved for a run, its own
``--help``, or shell completion below it.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup, TyperOption

from ._fastparams import install as _install_fast_params

_install_fast_params()

# Typer >= 0.24 ships its own copy of Click; annotations below name Click's types loosely.
Command = Any
Context = Any


@dataclass(frozen=True)
class LazyCommand:
    name: str
    #: ``"module:attribute"`` inside ``bastion.cli``: a command function or a ``typer.Typer``
    target: str
    help: str
    context_settings: dict[str, Any] = field(default_factory=dict)
    hidden: bool = False


#: name → how to load it, in registration order (the order ``--help`` lists them)
COMMANDS: dict[str, LazyCommand] = {}


def register(name: str, target: str, help: str, **context_settings: Any) -> None:
    """Add command ``name``; ``target`` is ``"module:attribute"`` relative to ``bastion.cli``."""
    if name in COMMANDS:
        raise ValueError(f"command {name!r} registered twice")
    if ":" not in target:
        raise ValueError(f"target {target!r} must be 'module:attribute'")
    COMMANDS[name] = LazyCommand(name, target, help, dict(context_settings))


def load_command(name: str) -> Command:
    """Import the module behind ``name`` and build its Click command (a group for a sub-app)."""
    spec = COMMANDS[name]
    module_name, attr = spec.target.split(":", 1)
    module = importlib.import_module(f"{__package__}.{module_name}")
    obj = getattr(module, attr)
    command: Command
    if isinstance(obj, typer.Typer):
        command = typer.main.get_group(obj)
        if spec.context_settings:
            command.context_settings.update(spec.context_settings)
    else:
        single = typer.Typer(add_completion=False)
        single.command(name, context_settings=spec.context_settings or None)(obj)
        command = typer.main.get_command(single)
    command.name = name
    _plain_help(command)
    return command


def _plain_help(command: Any) -> None:
    """Man-style help for the command and everything below it, like the root's (app.py)."""
    command.rich_markup_mode = None
    for child in (getattr(command, "commands", None) or {}).values():
        _plain_help(child)


def _flag_type_label(original: Any) -> Any:
    """A flag takes no value, so ``--help`` shows no ``<bool>`` type label next to it."""

    def display_type_rich(self: TyperOption, ctx: Context) -> str | None:
        return None if self.is_flag else original(self, ctx)

    return display_type_rich


if hasattr(TyperOption, "display_type_rich"):
    TyperOption.display_type_rich = _flag_type_label(  # type: ignore[method-assign]
        TyperOption.display_type_rich)


class _Placeholder(TyperCommand):
    """What listings (root ``--help``, completion of command names) see: name and help only."""

    def __init__(self, spec: LazyCommand) -> None:
        super().__init__(name=spec.name, help=spec.help, short_help=spec.help,
                         hidden=spec.hidden, add_help_option=False)


class LazyGroup(TyperGroup):
    """A Typer group whose registered commands are imported on first use."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._loaded: dict[str, Command] = {}

    def list_commands(self, ctx: Context) -> list[str]:
        eager = [n for n in super().list_commands(ctx) if n not in COMMANDS]
        return [*COMMANDS, *eager]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        if cmd_name in self._loaded:
            return self._loaded[cmd_name]
        spec = COMMANDS.get(cmd_name)
        if spec is not None:
            return _Placeholder(spec)
        return super().get_command(ctx, cmd_name)

    def real_command(self, cmd_name: str) -> Command:
        if cmd_name not in self._loaded:
            self._loaded[cmd_name] = load_command(cmd_name)
        return self._loaded[cmd_name]

    def _main_shell_completion(self, ctx_args: Any, prog_name: str,
                               complete_var: str | None = None) -> None:
        """Shell completion callbacks (``bastion completion``): Typer's completion classes."""
        if os.environ.get(complete_var or f"_{prog_name}_COMPLETE".upper()):
            from typer._completion_classes import completion_init

            completion_init()
        super()._main_shell_completion(ctx_args, prog_name, complete_var)

    def resolve_command(self, ctx: Context, args: list[str]
                        ) -> tuple[str | None, Command | None, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        if isinstance(command, _Placeholder) and name is not None:
            command = self.real_command(command.name or name)
        return name, command, rest
