"""Bastion: a local-first AI agent that cannot leak, break or exceed what you granted it."""

from . import _codecache

_codecache.install()  # before any of Bastion's dataclasses is defined (see _codecache.py)

__version__ = "0.1.0"
