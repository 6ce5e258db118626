"""From a config item to an evaluator: the kinds, found, and one builder.

Each kind declares itself (see ``kind``) in a module of ``evaluators/kinds/``; the
registry imports those modules itself, so adding a kind touches one file, and `promptloop
schema` describes its real arguments.

``build_evaluator`` validates eagerly, so a typo in promptloop.yaml is a one-line
``ValueError`` ("contains: unknown key valus; allowed keys: ...") at load time, not a
failure halfway through a paid run. ``not-`` negates the kinds that say ``negatable``.

Kind modules stay light (no template engine, no model client at import): `promptloop
schema` imports them all.
"""

from __future__ import annotations

import difflib
import importlib
import math
import pkgutil
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from promptloop.evaluators import kinds as package
from promptloop.evaluators.base import Evaluator, EvaluatorFileError
from promptloop.evaluators.kind import (
    ARGUMENT_ERROR,
    NEGATION_PREFIX,
    BuildContext,
    EvaluatorKind,
    declared,
)


def kinds() -> dict[str, type[EvaluatorKind]]:
    """Every declared kind, by name, once each module of ``evaluators.kinds`` is imported
    (importing is a no-op after the first time; a module added there is found too)."""
    for module in sorted(info.name for info in pkgutil.iter_modules(package.__path__)):
        importlib.import_module(f"{package.__name__}.{module}")
    return declared()


def kind_names() -> tuple[str, ...]:
    """Every name a user may write: the kinds (negatable first), then their ``not-`` forms."""
    declared = kinds().values()
    negatable = [k.kind for k in declared if k.negatable]
    others = [k.kind for k in declared if not k.negatable]
    return (*negatable, *others, *(NEGATION_PREFIX + k for k in negatable))


def resolve_kind(written: str) -> tuple[type[EvaluatorKind], bool]:
    """The kind class a written name stands for, and whether it is negated."""
    known = kinds()
    if written in known:
        return known[written], False
    plain = written.removeprefix(NEGATION_PREFIX)
    if written != plain and plain in known and known[plain].negatable:
        return known[plain], True
    raise ValueError(unknown_kind_message(written))


def unknown_kind_message(kind: str) -> str:
    plain = kind.removeprefix(NEGATION_PREFIX)
    if kind != plain and plain in kinds():
        return f"{kind!r} does not exist: not- applies to deterministic evaluators only; " + (
            "say what must not happen in the rubric"
            if plain == "judge"
            else "return the opposite from the python function"
            if plain == "python"
            else f"{plain} has no opposite"
        )
    names = kind_names()
    close = difflib.get_close_matches(kind, names, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown evaluator {kind!r}{hint} (known: {', '.join(names)})"


# --- from a config item to an evaluator ----------------------------------------------------


def parse_arguments(written: str, args: Any) -> EvaluatorKind:
    """``args`` validated against the kind's model; ``ValueError`` with one line naming
    the kind as written."""
    cls, _ = resolve_kind(written)
    try:
        return cls.model_validate(args)
    except ValidationError as exc:
        raise ValueError(f"{written}: {_first_problem(cls, exc)}") from None


def build_evaluator(spec: Any, *, base_dir: Path) -> Evaluator:
    """Build the evaluator a config item describes.

    ``spec`` is read by duck typing (``kind``, ``args``, ``weight``, ``name``), so this
    also takes look-alikes from tests. Raises ``ValueError`` with a one-line message
    saying what is wrong and what is expected.
    """
    written = getattr(spec, "kind", None)
    if not isinstance(written, str):
        raise ValueError(f"evaluator kind must be a string, got {written!r}")
    weight = getattr(spec, "weight", 1.0)
    weight = 1.0 if weight is None else weight
    if (
        isinstance(weight, bool)
        or not isinstance(weight, int | float)
        or not (math.isfinite(weight) and weight >= 0)
    ):
        raise ValueError(f"{written}: weight must be a number >= 0, got {weight!r}")
    _, negate = resolve_kind(written)
    arguments = parse_arguments(written, getattr(spec, "args", None))
    context = BuildContext(
        written=written,
        name=getattr(spec, "name", None) or None,
        weight=float(weight),
        base_dir=base_dir,
        negate=negate,
    )
    try:
        return arguments.build(context)
    except EvaluatorFileError as exc:
        raise EvaluatorFileError(f"{written}: {exc}", file=exc.file, line=exc.line) from exc
    except ValueError as exc:
        raise ValueError(f"{written}: {exc}") from exc


def _first_problem(cls: type[EvaluatorKind], exc: ValidationError) -> str:
    errors = exc.errors()
    # A misspelt key also makes the real one "missing"; the misspelling is the news.
    first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    where = ".".join(str(part) for part in first["loc"])
    allowed = [field.alias or name for name, field in cls.model_fields.items()]
    if first["type"] == "extra_forbidden":
        shown = repr(where) if cls.quote_keys else where
        close = difflib.get_close_matches(where, allowed, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        return f"unknown key {shown}{hint}; allowed keys: {', '.join(allowed)}"
    if first["type"] == "missing":
        field = next((f for n, f in cls.model_fields.items() if where in (n, f.alias)), None)
        what = f" ({field.description})" if field is not None and field.description else ""
        return f"missing key {where}{what}"
    message = str(first["msg"]).removeprefix("Value error, ")
    if first["type"] in ("bool_type", "bool_parsing"):
        message = f"must be true or false, got {first['input']!r}"
        return f"{where} {message}"
    if first["type"] in (ARGUMENT_ERROR, "value_error") or not where:
        # The kinds' own validators word the whole message.
        return message
    return f"{where}: {message}"
