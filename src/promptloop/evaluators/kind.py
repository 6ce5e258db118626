"""How an evaluator kind declares itself: one class, the model of its arguments.

A kind is a pydantic model of its arguments (``extra="forbid"``) that names its ``kind``,
may accept short forms (``contains: "x"`` for ``{values: ["x"]}``) in a ``mode="before"``
validator, and ``build``s the evaluator. Defining such a class registers it; the modules
of ``kinds/`` hold them, one family each, and ``registry`` finds them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic_core import PydanticCustomError

from promptloop.evaluators.base import Evaluator

if TYPE_CHECKING:
    from promptloop.evaluators.templating import TextTemplate

NEGATION_PREFIX = "not-"
# The type of the errors ``argument_error`` makes.
ARGUMENT_ERROR = "argument"


@dataclass(frozen=True)
class BuildContext:
    """What a kind's ``build`` knows besides its arguments."""

    # The kind as the user wrote it (``not-contains``), for default names.
    written: str
    name: str | None
    weight: float
    # Where files named in the config (a schema, a python module) are found.
    base_dir: Path
    negate: bool = False

    def label(self, default: str) -> str:
        """How results name the evaluator: its configured name, else ``default``."""
        return self.name or default


class EvaluatorKind(BaseModel):
    """The arguments of one evaluator kind; subclasses that set ``kind`` are registered."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: ClassVar[str] = ""
    # Whether ``not-<kind>`` exists (deterministic checks; "not judge" says nothing a
    # rubric cannot say better, and a python check can return the opposite itself).
    negatable: ClassVar[bool] = False
    # JSON Schemas of the short forms a user may write instead of the mapping.
    short_forms: ClassVar[tuple[dict[str, Any], ...]] = ()
    # How "unknown key" reads for this kind (a few kinds quote the key).
    quote_keys: ClassVar[bool] = False

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if cls.__dict__.get("kind"):
            _register(cls)

    @model_validator(mode="before")
    @classmethod
    def _nothing_written(cls, data: Any) -> Any:
        # ``- shouting`` (a kind with nothing under it) means no arguments. A kind's own
        # short forms run first, so one that needs an argument says so in its own words.
        return {} if data is None else data

    def build(self, context: BuildContext) -> Evaluator:
        """The evaluator these arguments describe; ``ValueError`` (without the kind in
        front: the registry adds it) when a file or template they name is broken."""
        raise NotImplementedError

    @classmethod
    def argument_schema(cls) -> dict[str, Any]:
        """JSON Schema of what may stand under ``<kind>:`` in promptloop.yaml."""
        full = cls.model_json_schema(mode="validation")
        full.pop("title", None)
        full.pop("description", None)  # the docstring, said once below
        forms = [*cls.short_forms, full]
        schema: dict[str, Any] = {"anyOf": forms} if len(forms) > 1 else full
        if cls.__doc__:
            schema["description"] = " ".join(cls.__doc__.split())
        return schema


_KINDS: dict[str, type[EvaluatorKind]] = {}


def _register(cls: type[EvaluatorKind]) -> None:
    other = _KINDS.get(cls.kind)
    if other is not None and other.__qualname__ != cls.__qualname__:
        raise TypeError(f"evaluator kind {cls.kind!r} is declared twice: {other} and {cls}")
    _KINDS[cls.kind] = cls


def declared() -> dict[str, type[EvaluatorKind]]:
    """The kinds whose classes have been defined so far (``registry.kinds`` loads them all)."""
    return dict(_KINDS)


def text_template(source: str, *, what: str) -> TextTemplate:
    """``source`` compiled as a per-case template (the engine loads on first use)."""
    from promptloop.evaluators.templating import TextTemplate

    return TextTemplate.compile(source, what=what)


def argument_error(message: str) -> PydanticCustomError:
    """A problem with a kind's arguments, worded whole (the registry puts the kind first)."""
    return PydanticCustomError(ARGUMENT_ERROR, "{message}", {"message": message})


def as_mapping(value: Any, key: str) -> Any:
    """A short form (anything but a mapping) as ``{key: value}``."""
    return value if isinstance(value, Mapping) else {key: value}
