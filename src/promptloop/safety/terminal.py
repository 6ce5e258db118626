"""Untrusted text printed to a terminal: control characters (an escape sequence in a model's
answer or a trace) are shown as `?`, so the text cannot move the cursor, recolour or retitle
the user's terminal. Line breaks and tabs stay."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def terminal_text(text: str) -> str:
    return _CONTROL.sub("?", text)
