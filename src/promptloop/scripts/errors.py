"""The one error a script raises: its message is the line a person reads."""

from __future__ import annotations


class ScriptError(ValueError):
    """A config's script could not give a value: it did not load, threw, ran too long, used
    too much memory or returned something unusable. Never a pass."""
