"""The Jinja2 sandbox prompts are written for, and their syntax check.

Templates render in a Jinja2 sandbox (prompt files arrive in pull requests) with
``StrictUndefined`` so a missing variable is an error, never an empty string. The sandbox
also has promptfoo's Nunjucks filters, so a promptfoo prompt renders the same here.

A syntax mistake is reported on the line where it is (the ``{{`` never closed, the
``{% if %}`` never ended), not where Jinja gave up reading.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, meta

from promptloop.errors import UserError
from promptloop.evaluators.templating import BoundedSandbox

_ENV = BoundedSandbox(undefined=StrictUndefined, keep_trailing_newline=True, autoescape=False)


def _dump(value: Any, indent: int | None = None) -> str:
    separators = (",", ":") if indent is None else (",", ": ")
    return json.dumps(value, ensure_ascii=False, indent=indent, separators=separators, default=str)


# promptfoo's Nunjucks filters, so its prompts render the same here: ``load`` parses JSON,
# ``dump`` writes it as JavaScript's JSON.stringify does (compact unless indented).
_ENV.filters["load"] = json.loads
_ENV.filters["dump"] = _dump


@functools.lru_cache(maxsize=512)
def compiled(text: str) -> Template:
    """``text`` as a sandboxed template (compiled once per distinct text)."""
    return _ENV.from_string(text)


_DELIMITERS = (("{{", "}}"), ("{%", "%}"), ("{#", "#}"))
_BLOCK_TAG = re.compile(r"{%[-+]?\s*(end)?(\w+)")
_INNERMOST = re.compile(r"innermost block that needs to be closed is '(\w+)'")


def _culprit_line(template: str, error: TemplateSyntaxError) -> int:
    """Where the mistake is, not where Jinja gave up: the ``{{`` never closed, or the
    ``{% if %}`` whose ``{% endif %}`` is missing (Jinja reports the end of the file)."""
    reported = error.lineno or 1
    for opening, closing in _DELIMITERS:
        start = template.find(opening)
        while start != -1:
            end = template.find(closing, start + 2)
            following = template.find(opening, start + 2)
            if end == -1 or (following != -1 and following < end):
                return min(template.count("\n", 0, start) + 1, reported)
            start = following
    innermost = _INNERMOST.search(error.message or "")
    if innermost:
        open_lines: list[int] = []
        for match in _BLOCK_TAG.finditer(template):
            if match.group(2) != innermost.group(1):
                continue
            if match.group(1):
                if open_lines:
                    open_lines.pop()
            else:
                open_lines.append(template.count("\n", 0, match.start()) + 1)
        if open_lines:
            return open_lines[-1]
    return reported


def check_syntax(template: str, path: str, lines: tuple[int, int]) -> frozenset[str]:
    """The variables ``template`` uses; a syntax mistake is a ``UserError`` on its line of
    ``path``, where the template sits on ``lines`` (1-based, inclusive)."""
    try:
        ast = _ENV.parse(template)
    except TemplateSyntaxError as error:
        first, last = lines
        line = min(first + _culprit_line(template, error) - 1, last)
        raise UserError(f"template error: {error.message}", path=path, line=line) from None
    return frozenset(meta.find_undeclared_variables(ast))
