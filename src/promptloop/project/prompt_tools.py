"""The tools a prompt declares, in OpenAI's function-calling shape.

Both prompt shapes take ``tools`` and ``tool_choice``; each tool's parameters must be a
valid JSON Schema, names are unique, and ``tool_choice`` may only name a declared tool.
Where each tool is written in the file is ``project.tool_source``'s concern.
"""

from __future__ import annotations

import importlib
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError


class ToolFunction(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: str | None = None
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    strict: bool | None = None

    @model_validator(mode="after")
    def _schema_is_valid(self) -> ToolFunction:
        # Imported here: a prompt without tools must not pay for loading jsonschema.
        jsonschema = importlib.import_module("jsonschema")
        try:
            jsonschema.Draft202012Validator.check_schema(self.parameters)
        except jsonschema.SchemaError as exc:
            raise PydanticCustomError(
                "tool_schema",
                "parameters is not a valid JSON Schema: {error}",
                {"error": exc.message, "at": ("parameters",)},
            ) from None
        return self


class ToolSpec(BaseModel):
    """A tool in OpenAI's function-calling shape: ``{type: function, function: {...}}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["function"] = "function"
    function: ToolFunction


class _ChoiceName(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str


class ToolChoiceFunction(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["function"] = "function"
    function: _ChoiceName


ToolChoice = Literal["auto", "none", "required"] | ToolChoiceFunction


class ToolSettings(BaseModel):
    """``tools`` and ``tool_choice``, which both prompt shapes take."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice | None = None

    @model_validator(mode="after")
    def _names(self) -> ToolSettings:
        names = [tool.function.name for tool in self.tools]
        for index, name in enumerate(names):
            if name in names[:index]:
                raise PydanticCustomError(
                    "tool_duplicate",
                    "two tools are named {name}",
                    {"name": repr(name), "at": ("tools", index, "function", "name")},
                )
        choice = self.tool_choice
        if choice is not None and not self.tools:
            raise PydanticCustomError(
                "tool_choice_alone",
                "tool_choice is set but no tools are declared",
                {"at": ("tool_choice",)},
            )
        if isinstance(choice, ToolChoiceFunction) and choice.function.name not in names:
            raise PydanticCustomError(
                "tool_choice_unknown",
                "tool_choice names {name}, which is not one of the tools ({known})",
                {
                    "name": repr(choice.function.name),
                    "known": ", ".join(names),
                    "at": ("tool_choice", "function", "name"),
                },
            )
        return self

    def tool_dicts(self) -> tuple[dict[str, Any], ...]:
        return tuple(tool.model_dump(exclude_none=True) for tool in self.tools)

    def tool_choice_value(self) -> str | dict[str, Any] | None:
        choice = self.tool_choice
        return choice.model_dump() if isinstance(choice, ToolChoiceFunction) else choice
