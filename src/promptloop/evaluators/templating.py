"""Evaluator arguments as Jinja2 templates, rendered per case.

``equals: "{{ expected }}"`` lets one evaluator line serve a whole dataset. Rendering
uses a sandbox (the config comes from a pull request, which may be hostile) and
``StrictUndefined`` (a misspelt variable must be an error, not an empty string that
silently matches everything).

A string without ``{{``, ``{%`` or ``{#`` is taken literally and never rendered, so
regex patterns such as ``\\d{2,4}`` can be checked once, when the config is loaded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, UndefinedError, meta
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from promptloop.dataset.cases import Case

# Re-exported: rendering raises it, and callers may catch it from here.
from promptloop.evaluators.base import TemplateRenderError as TemplateRenderError
from promptloop.evaluators.base import is_template


def _finalize(value: Any) -> Any:
    # ``{{ expected }}`` with a dict or list expected must give JSON, not Python's repr,
    # so an equals/contains against a structured answer compares like for like.
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, ensure_ascii=False, default=str)
    return value


_ENV = SandboxedEnvironment(
    undefined=StrictUndefined,
    autoescape=False,
    keep_trailing_newline=True,
    finalize=_finalize,
)
# ``regex: "^{{ expected | regex_escape }}$"``: a case's text used literally inside a pattern.
_ENV.filters["regex_escape"] = lambda value: re.escape(str(value))


def used_variables(args: Any) -> set[str]:
    """Variables the templates among evaluator arguments (strings, nested anywhere) read."""
    if isinstance(args, str):
        if not is_template(args):
            return set()
        try:
            return set(meta.find_undeclared_variables(_ENV.parse(args)))
        except TemplateSyntaxError:
            return set()  # reported, with its line, when the evaluator is built
    if isinstance(args, Mapping):
        return set().union(*(used_variables(v) for v in args.values()))
    if isinstance(args, list | tuple):
        return set().union(*(used_variables(v) for v in args))
    return set()


def template_vars(case: Case) -> dict[str, Any]:
    """The names a template may use: the case's vars, plus ``expected`` when the case has one.

    ``expected`` is left undefined (not None) when the case has none, so a template that
    needs it fails with a message instead of comparing against the text "None".
    """
    names: dict[str, Any] = dict(case.vars)
    if case.expected is not None:
        names["expected"] = case.expected
    return names


@dataclass(frozen=True)
class TextTemplate:
    """A string argument; literal unless it contains Jinja markup."""

    source: str
    _compiled: Template | None = field(default=None, compare=False, repr=False)

    @classmethod
    def compile(cls, source: str, *, what: str) -> TextTemplate:
        """Raises ``ValueError`` naming ``what`` when the template does not parse."""
        if not is_template(source):
            return cls(source)
        try:
            compiled = _ENV.from_string(source)
        except TemplateSyntaxError as exc:
            raise ValueError(
                f"{what}: template {source!r} does not parse: {exc.message} (line {exc.lineno})"
            ) from exc
        return cls(source, compiled)

    @property
    def is_literal(self) -> bool:
        return self._compiled is None

    def render(self, case: Case) -> str:
        if self._compiled is None:
            return self.source
        try:
            return self._compiled.render(template_vars(case))
        except UndefinedError as exc:
            available = ", ".join(sorted(template_vars(case))) or "none"
            hint = ""
            if case.expected is None and "'expected'" in (exc.message or ""):
                hint = "; this case has no expected value"
            raise TemplateRenderError(
                f"template {self.source!r} uses an undefined variable for case {case.id}: "
                f"{exc.message}{hint} (available: {available})"
            ) from exc
        except SecurityError as exc:
            raise TemplateRenderError(
                f"template {self.source!r} was refused by the sandbox: {exc}"
            ) from exc
        except Exception as exc:  # a template's own runtime error (e.g. a bad filter argument)
            raise TemplateRenderError(
                f"template {self.source!r} failed for case {case.id}: {type(exc).__name__}: {exc}"
            ) from exc
