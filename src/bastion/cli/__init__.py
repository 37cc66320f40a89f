"""Command-line interface. No business logic here: commands parse, call a package, print."""

from .app import app, main

__all__ = ["app", "main"]
