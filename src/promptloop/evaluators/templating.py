"""Evaluator arguments as Jinja2 templates, rendered per case.

``equals: "{{ expected }}"`` lets one evaluator line serve a whole dataset. Rendering
uses a sandbox (the config comes from a pull request, which may be hostile) and
``StrictUndefined`` (a misspelt variable must be an error, not an empty string that
silently matches everything).

A string without ``{{``, ``{%`` or ``{#`` is taken literally and never rendered, so
regex patterns such as ``\\d{2,4}`` can be checked once, when the config is loaded.

Every template promptloop renders (prompts, evaluator arguments, judge rubrics, optimizer
candidates) renders in ``BoundedSandbox`` through ``render_bounded``: Jinja's sandbox stops
a template reaching Python's internals, and this one also refuses a single operation that
would build a huge value (``'a' * 10**9``, ``'x'.center(10**9)``, ``'%0999999999d' % 1``),
caps the rendered text, and stops a render past ``RENDER_BUDGET_S`` (nested loops).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, UndefinedError, meta
from jinja2.exceptions import SecurityError
from jinja2.filters import FILTERS
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment
from jinja2.utils import generate_lorem_ipsum

from promptloop.bounds import RENDER_BUDGET_S
from promptloop.dataset.cases import Case

# Re-exported: rendering raises it, and callers may catch it from here.
from promptloop.evaluators.base import TemplateRenderError as TemplateRenderError
from promptloop.evaluators.base import is_template
from promptloop.watchdog import TimeLimitExceeded, run_limited

# The longest string (or list) one template operation may build, and the longest text a
# whole render may produce. Real prompts are thousands of characters.
MAX_VALUE_LENGTH = 1_000_000
MAX_RENDERED_LENGTH = 2_000_000
# A format width of seven digits or more: ``'%09999999d'``, ``'{:>9999999}'``.
_HUGE_WIDTH = re.compile(r"\d{7,}")
_PADDING_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})


def _refuse(what: str) -> SecurityError:
    return SecurityError(f"{what} would exceed {MAX_VALUE_LENGTH:,} characters")


def _sized(value: Any) -> bool:
    return isinstance(value, str | bytes | list | tuple)


def _check_binop(operator: str, left: Any, right: Any) -> None:
    if operator == "*":
        for seq, times in ((left, right), (right, left)):
            if _sized(seq) and isinstance(times, int) and len(seq) * times > MAX_VALUE_LENGTH:
                raise _refuse("repeating a value")
    elif operator == "+":
        if _sized(left) and _sized(right) and len(left) + len(right) > MAX_VALUE_LENGTH:
            raise _refuse("joining two values")
    elif operator == "**" and isinstance(left, int) and isinstance(right, int) and right > 0:
        if abs(left).bit_length() * right > 64 * MAX_VALUE_LENGTH // 10 and abs(left) > 1:
            raise SecurityError("the power is too large to compute")
    elif operator == "%" and isinstance(left, str):
        _check_format(left, right if isinstance(right, tuple) else (right,))


def _check_format(fmt: Any, args: tuple[Any, ...] | Mapping[str, Any] = ()) -> None:
    values = args.values() if isinstance(args, Mapping) else args
    if (isinstance(fmt, str) and _HUGE_WIDTH.search(fmt)) or any(
        isinstance(v, int) and not isinstance(v, bool) and v > MAX_VALUE_LENGTH for v in values
    ):
        raise _refuse("formatting with that width")


def _check_call(obj: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    # The sandbox hands templates a wrapper of ``str.format`` that keeps the method it wraps.
    owner = getattr(getattr(obj, "__wrapped__", obj), "__self__", None)
    if not isinstance(owner, str):
        return
    name = getattr(obj, "__name__", "")
    if name in _PADDING_METHODS:
        _check_format("", (*args, *kwargs.values()))
    elif name in ("format", "format_map"):
        _check_format(owner, (*args, *kwargs.values()))
    elif name == "replace" and len(args) >= 2 and isinstance(args[0], str):
        grows = max(0, len(str(args[1])) - len(args[0]))
        if len(owner) + owner.count(args[0]) * grows > MAX_VALUE_LENGTH:
            raise _refuse("replacing")
    elif (
        name == "join"
        and args
        and hasattr(args[0], "__len__")
        and len(owner) * len(args[0]) > MAX_VALUE_LENGTH
    ):
        raise _refuse("joining")


def _bounded_filter(name: str) -> Any:
    plain = FILTERS[name]
    # A filter marked to receive the environment or context first keeps that mark.
    passes = getattr(plain, "jinja_pass_arg", None)

    def bounded(*args: Any, **kwargs: Any) -> Any:
        given = args[1:] if passes else args  # the filtered value first
        if name == "format":
            _check_format(given[0] if given else "", (*given[1:], *kwargs.values()))
        elif name == "replace" and len(given) >= 3:
            _check_call(str(given[0]).replace, (str(given[1]), str(given[2])), {})
        else:  # center, indent, wordwrap: a width or indent that builds a huge string
            _check_format("", (*given[1:], *kwargs.values()))
        return plain(*args, **kwargs)

    if passes is not None:
        bounded.jinja_pass_arg = passes  # type: ignore[attr-defined]
    return bounded


def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    if n * max > MAX_VALUE_LENGTH // 8:
        raise _refuse("lipsum")
    return generate_lorem_ipsum(n, html, min, max)


class BoundedSandbox(SandboxedEnvironment):
    """Jinja's sandbox, refusing single operations that would build a huge value."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals["lipsum"] = _lipsum
        for name in ("center", "indent", "wordwrap", "format", "replace"):
            self.filters[name] = _bounded_filter(name)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _check_binop(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _check_call(__obj, args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)


def render_bounded(template: Template, variables: Mapping[str, Any], what: str) -> str:
    """Render within ``RENDER_BUDGET_S`` and ``MAX_RENDERED_LENGTH`` characters; raises
    ``TimeLimitExceeded``, or ``SecurityError`` for a refused operation or a too-long text."""

    def render() -> str:
        parts: list[str] = []
        size = 0
        for chunk in template.generate(dict(variables)):
            size += len(chunk)
            if size > MAX_RENDERED_LENGTH:
                raise SecurityError(f"the rendered text exceeds {MAX_RENDERED_LENGTH:,} characters")
            parts.append(chunk)
        return "".join(parts)

    return run_limited(render, RENDER_BUDGET_S, what)


def _finalize(value: Any) -> Any:
    # ``{{ expected }}`` with a dict or list expected must give JSON, not Python's repr,
    # so an equals/contains against a structured answer compares like for like.
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, ensure_ascii=False, default=str)
    return value


_ENV = BoundedSandbox(
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
            return render_bounded(self._compiled, template_vars(case), f"template {self.source!r}")
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
        except TimeLimitExceeded as exc:
            raise TemplateRenderError(f"{exc} for case {case.id}") from exc
        except Exception as exc:  # a template's own runtime error (e.g. a bad filter argument)
            raise TemplateRenderError(
                f"template {self.source!r} failed for case {case.id}: {type(exc).__name__}: {exc}"
            ) from exc
