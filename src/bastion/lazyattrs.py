"""Package attributes that import their module on first use (PEP 562), for package faces
whose members are heavy and often unused by a command (``tools``, ``agent``, ``rights``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def lazy_getattr(package: str, namespace: dict[str, Any], table: Mapping[str, str],
                 renamed: Mapping[str, str] | None = None) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: ``table`` maps a name to the submodule
    (``".edit"``) that defines it (as ``renamed[name]`` when given); the value is cached in
    ``namespace`` (the package's ``globals()``), so each name is looked up once."""
    aliases = renamed or {}

    def __getattr__(name: str) -> Any:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(module, package), aliases.get(name, name))
        namespace[name] = value
        return value

    return __getattr__
