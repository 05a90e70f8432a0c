"""Operator commands, one module per command; ``cli.py`` parses options and renders their results."""

__all__: list[str] = []
