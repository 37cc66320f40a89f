"""Bastion: a local-first AI agent that cannot leak, break or exceed what you granted it."""

__version__ = "0.1.0"
