"""The promptfooconfig.yaml surface promptloop reads, as pydantic models closed where
promptfoo's published ``config-schema.json`` is closed (``tests/project/promptfoo`` checks
the two agree). Items whose shape depends on their kind (prompts, providers, tests) are
read by the modules that understand them; these models only hold the keys."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class PromptObject(_Closed):
    """``prompts: [{id: file://x.txt, label: ...}]`` or ``[{raw: ..., label: ...}]``."""

    id: str | None = None
    label: str | None = None
    raw: str | None = None
    template: str | None = None
    display: str | None = None
    function: Any = None
    config: Any = None


class ProviderOptions(_Closed):
    id: Any = None
    label: Any = None
    config: Any = None
    prompts: list[str] | None = None
    transform: str | None = None
    delay: float | None = None
    env: Any = None
    inputs: Any = None


class EvaluateOptions(_Closed):
    cache: bool | None = None
    delay: float | None = None
    generateSuggestions: bool | None = None
    suggestionsCount: int | None = None
    interactiveProviders: bool | None = None
    maxConcurrency: float | None = None
    progressCallback: Any = None
    repeat: float | None = None
    showProgressBar: bool | None = None
    timeoutMs: float | None = None
    maxEvalTimeMs: float | None = None
    isRedteam: bool | None = None
    silent: bool | None = None
    filterRange: Any = None


class PromptfooConfig(_Closed):
    """The top level of promptfooconfig.yaml."""

    tags: dict[str, str] | None = None
    description: str | None = None
    providers: Any = None
    prompts: Any
    tests: Any = None
    scenarios: Any = None
    default_test: Any = Field(default=None, alias="defaultTest")
    outputPath: Any = None
    sharing: Any = None
    nunjucksFilters: Any = None
    env: Any = None
    derivedMetrics: Any = None
    extensions: Any = None
    metadata: Any = None
    redteam: Any = None
    writeLatestResults: bool | None = None
    tracing: Any = None
    evaluateOptions: EvaluateOptions | None = None
    commandLineOptions: Any = None
    targets: Any = None


# Keys that change what is tested or how it is graded, which promptloop cannot honour: a run
# without them would report passes promptfoo would not.
REFUSED = {
    "redteam": "red-teaming is promptfoo's own; run it with `promptfoo redteam`",
    "nunjucksFilters": "custom Nunjucks filters are JavaScript promptloop does not load; "
    "inline what they do in the prompt",
    "extensions": "extension hooks run JavaScript or Python around the eval; remove them",
    "derivedMetrics": "derived metrics are not computed; remove them",
}
# Keys about promptfoo's own output or sharing, which do not change a verdict.
IGNORED = {
    "tags": "tags are not used",
    "outputPath": "promptloop writes its own reports (--output)",
    "sharing": "nothing is shared; the report goes to the pull request",
    "writeLatestResults": "promptloop writes its own results.json",
    "tracing": "tracing is not read",
    "metadata": "config metadata is not used",
    "commandLineOptions": "pass promptloop's options on its own command line",
    "env": "set these variables in the environment (e.g. the workflow's env:)",
}
