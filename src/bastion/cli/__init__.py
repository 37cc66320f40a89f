"""Command-line interface. No business logic here: commands parse, call a package, print."""

from .app import app, entry, main

__all__ = ["app", "entry", "main"]
