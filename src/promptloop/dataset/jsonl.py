"""JSON Lines read the one way every promptloop file of them is read: blank lines skipped,
each line's value with its number, and the first line that is not JSON one
``file:line`` error."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from promptloop.errors import UserError


def json_lines(text: str, display: str) -> Iterator[tuple[int, Any]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            raise UserError(
                f"invalid JSON: {error.msg} (column {error.colno})", path=display, line=number
            ) from None
        yield number, value
