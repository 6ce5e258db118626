"""Reading promptfooconfig.yaml: the model agrees with promptfoo's published schema, the
fixtures from promptfoo's repository load, prompts keep their lines, providers map onto
litellm, and whatever promptloop cannot carry over is one line naming file, line and key."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from promptloop.errors import UserError
from promptloop.project.loaded import find_config, load_config
from promptloop.project.loader import load_project
from promptloop.project.promptfoo.providers import litellm_model
from promptloop.project.promptfoo.schema import (
    EvaluateOptions,
    PromptfooConfig,
    PromptObject,
    ProviderOptions,
)
from promptloop.project.rendering import render_prompt

FIXTURES = Path(__file__).parents[1] / "fixtures" / "promptfoo"
SCHEMA = json.loads((FIXTURES / "config-schema.json").read_text())
CONFIGS = sorted(FIXTURES.glob("*/promptfooconfig*.yaml"))


def _definition(name: str) -> dict[str, Any]:
    return SCHEMA["definitions"][name]  # type: ignore[no-any-return]


def _aliases(model: type[Any]) -> set[str]:
    return {f.alias or name for name, f in model.model_fields.items()}


def test_the_models_hold_exactly_the_keys_of_promptfoos_schema() -> None:
    top = _definition("PromptfooConfigSchema")
    assert top["additionalProperties"] is False
    assert _aliases(PromptfooConfig) == set(top["properties"])
    assert PromptfooConfig.model_config["extra"] == "forbid"
    prompt_objects = [
        item
        for item in _definition("__schema13")["anyOf"][1]["items"]["anyOf"]
        if item.get("type") == "object" and "properties" in item
    ]
    assert set().union(*(set(o["properties"]) for o in prompt_objects)) == _aliases(PromptObject)
    assert all(o["additionalProperties"] is False for o in prompt_objects)
    provider = _definition("__schema5")
    assert provider["additionalProperties"] is False
    assert set(provider["properties"]) == _aliases(ProviderOptions)
    options = _definition("__schema41")
    assert options["additionalProperties"] is False
    assert set(options["properties"]) == _aliases(EvaluateOptions)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_fixture_is_valid_for_promptfoos_schema(path: Path) -> None:
    jsonschema.validate(yaml.safe_load(path.read_text()), SCHEMA)


def test_getting_started_is_one_suite_per_prompt_and_provider(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(FIXTURES / "getting-started")
    project = load_project(Path("promptfooconfig.yaml"))
    assert [p.name for p in project.plans] == [
        "prompt-1.openai-gpt-4.1",
        "prompt-2.openai-gpt-4.1",
        "prompt-1.openai-o4-mini",
        "prompt-2.openai-o4-mini",
    ]
    assert [p.model for p in project.plans] == ["openai/gpt-4.1"] * 2 + ["openai/o4-mini"] * 2
    first = project.plans[0]
    assert first.prompt.path == "promptfooconfig.yaml"
    # The inline prompt's own line in the YAML, where critiques land.
    [message] = first.prompt.messages
    assert (message.start_line, message.end_line) == (8, 8)
    assert first.model_use is not None and first.model_use.line == 12
    assert first.model_use.key == "providers[0]"
    assert [len(p.cases) for p in project.plans] == [2] * 4
    # Each case carries its own assertion.
    assert all(len(first.case_checks[c.id].evaluators) == 1 for c in first.cases)


def test_a_directory_with_only_promptfooconfig_is_found(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "getting-started", tmp_path / "g")
    (tmp_path / "g" / "sub").mkdir()
    assert find_config(tmp_path / "g" / "sub").name == "promptfooconfig.yaml"
    (tmp_path / "g" / "promptloop.yaml").write_text("suites: []\n")
    assert find_config(tmp_path / "g").name == "promptloop.yaml"


def write(tmp_path: Path, config: str) -> Path:
    path = tmp_path / "evals.yaml"  # any name: the format is told by the content
    path.write_text(textwrap.dedent(config), encoding="utf-8")
    return path


TESTS = """\
tests:
  - vars: {name: Ada, style: '{"tone": "formal"}'}
    assert:
      - type: icontains
        value: ada
"""


def test_text_files_split_by_dashes_keep_each_prompts_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "a.txt").write_text(
        "Greet {{ name }}.\nTone: {{ (style | load).tone }}\n---\n\nSay bye to {{ name }}.\n"
    )
    (tmp_path / "prompts" / "b.txt").write_text("Hi {{ name }} {{ style | load | dump }}\n")
    path = write(
        tmp_path,
        "prompts:\n  - file://prompts/*.txt\nproviders: [anthropic:messages:claude-3-5-haiku]\n"
        + TESTS,
    )
    project = load_project(path.relative_to(tmp_path))
    assert [p.name for p in project.plans] == ["prompt-1", "prompt-2", "prompt-3"]
    assert project.plans[0].model == "anthropic/claude-3-5-haiku"
    spans = [
        (p.prompt.path, p.prompt.messages[0].start_line, p.prompt.messages[0].end_line)
        for p in project.plans
    ]
    assert spans == [("prompts/a.txt", 1, 2), ("prompts/a.txt", 5, 5), ("prompts/b.txt", 1, 1)]
    case = project.plans[0].cases[0]
    assert render_prompt(project.plans[0].prompt, case.vars).text == "Greet Ada.\nTone: formal"
    assert render_prompt(project.plans[2].prompt, case.vars).text == 'Hi Ada {"tone":"formal"}'


def test_prompt_objects_labels_and_provider_filters(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        textwrap.dedent(
            """\
        prompts:
          - id: file://chat.json
            label: chat
          - raw: 'Answer {{ name }} briefly.'
            label: brief
            config: {temperature: 0.7}
        providers:
          - id: openai:chat:gpt-4.1-mini
            label: mini
            prompts: [brief]
            config: {temperature: 0.1, max_tokens: 50}
          - id: ollama:chat:llama3
            prompts: [chat]
        """
        )
        + TESTS,
    )
    (tmp_path / "chat.json").write_text(
        '[{"role": "system", "content": "Be terse."}, {"role": "user", "content": "{{ name }}?"}]'
    )
    project = load_project(path)
    assert [(p.name, p.model) for p in project.plans] == [
        ("brief.mini", "openai/gpt-4.1-mini"),
        ("chat.ollama-chat-llama3", "ollama_chat/llama3"),
    ]
    brief, chat = project.plans
    assert (brief.temperature, brief.max_tokens) == (0.7, 50)
    assert brief.prompt.messages[0].start_line == 4
    assert [m.role for m in chat.prompt.messages] == ["system", "user"]


@pytest.mark.parametrize(
    ("provider_id", "model"),
    [
        ("openai:gpt-4.1", "openai/gpt-4.1"),
        ("openai:chat:gpt-4o", "openai/gpt-4o"),
        ("anthropic:messages:claude-sonnet-4", "anthropic/claude-sonnet-4"),
        ("azure:chat:my-deployment", "azure/my-deployment"),
        ("vertex:gemini-2.5-pro", "vertex_ai/gemini-2.5-pro"),
        ("google:gemini-2.5-flash", "gemini/gemini-2.5-flash"),
        ("bedrock:anthropic.claude-3-haiku", "bedrock/anthropic.claude-3-haiku"),
        ("ollama:llama3", "ollama/llama3"),
        ("mistral:mistral-large-latest", "mistral/mistral-large-latest"),
        ("groq:llama-3.1-8b-instant", "groq/llama-3.1-8b-instant"),
        ("openrouter:meta-llama/llama-3-8b", "openrouter/meta-llama/llama-3-8b"),
        ("exec:./run.sh", None),
        ("file://provider.py", None),
        ("echo", None),
    ],
)
def test_provider_ids_map_onto_litellm(provider_id: str, model: str | None) -> None:
    assert litellm_model(provider_id) == model


def refusal(tmp_path: Path, config: str) -> UserError:
    with pytest.raises(UserError) as caught:
        load_project(write(tmp_path, config))
    return caught.value


def test_an_unknown_provider_is_one_line_naming_it_and_its_line(tmp_path: Path) -> None:
    error = refusal(
        tmp_path,
        "prompts: ['Hi {{ name }}']\nproviders:\n  - openai:gpt-4.1\n  - exec:./run.sh\n" + TESTS,
    )
    assert (error.path, error.line) == (str(tmp_path / "evals.yaml"), 4)
    assert "'exec:./run.sh' is not one promptloop can call" in error.message
    assert "\n" not in error.one_line()


@pytest.mark.parametrize(
    ("config", "line", "words"),
    [
        ("redteam: {purpose: x}\n", 1, "`redteam` is not supported"),
        ("nunjucksFilters: {up: up.js}\n", 1, "custom Nunjucks filters"),
        (
            "providers2: x\n",
            1,
            "providers2",
        ),
    ],
)
def test_keys_that_would_change_verdicts_are_refused_at_their_line(
    tmp_path: Path, config: str, line: int, words: str
) -> None:
    error = refusal(
        tmp_path, config + "prompts: ['Hi {{ name }}']\nproviders: [openai:gpt-4.1]\n" + TESTS
    )
    assert error.line == line and words in error.message


def test_a_provider_setting_that_cannot_be_carried_is_refused(tmp_path: Path) -> None:
    error = refusal(
        tmp_path,
        "prompts: ['Hi {{ name }}']\nproviders:\n  - id: openai:gpt-4.1\n"
        "    config: {frequency_penalty: 1}\n" + TESTS,
    )
    assert error.line == 3 and "config.frequency_penalty is not supported" in error.message


def test_a_test_option_promptloop_cannot_honour_is_named_not_skipped(tmp_path: Path) -> None:
    error = refusal(
        tmp_path,
        "prompts: ['Hi {{ name }}']\nproviders: [openai:gpt-4.1]\ntests:\n"
        "  - vars: {name: Ada}\n    options: {storeOutputAs: greeting}\n"
        "    assert: [{type: contains, value: Ada}]\n",
    )
    assert error.line == 4 and error.key == "options.storeOutputAs"
    assert "`storeOutputAs` is not supported yet; multi-step tests" in error.message


def test_keys_about_promptfoos_own_output_are_noticed_not_refused(tmp_path: Path) -> None:
    project = load_project(
        write(
            tmp_path,
            "outputPath: out.json\nsharing: true\nprompts: ['Hi {{ name }}']\n"
            "providers: [openai:gpt-4.1]\n" + TESTS,
        )
    )
    notices = [n for n in project.notices if "is ignored" in n]
    assert notices[0].endswith(
        "evals.yaml:1: `outputPath` is ignored: promptloop writes its own reports (--output)"
    )
    assert "evals.yaml:2: `sharing`" in notices[1]


def test_a_case_id_changes_with_its_assertions(tmp_path: Path) -> None:
    def ids(value: str) -> list[str]:
        config = (
            "prompts: ['Hi {{ name }}']\nproviders: [openai:gpt-4.1]\ntests:\n"
            f"  - vars: {{name: Ada}}\n    assert: [{{type: contains, value: {value}}}]\n"
            "  - vars: {name: Ada}\n    assert: [{type: contains, value: Ada}]\n"
        )
        return [c.id for c in load_project(write(tmp_path, config)).plans[0].cases]

    same = ids("Ada")
    assert same[0] != same[1] and same[1] == f"{same[0]}-2"
    assert ids("Bob")[0] not in same


def test_the_format_is_told_by_the_content(tmp_path: Path) -> None:
    path = write(tmp_path, "prompts: ['Hi {{ name }}']\nproviders: [openai:gpt-4.1]\n" + TESTS)
    loaded = load_config(path)
    assert loaded.source is not None and loaded.source.format == "promptfoo"
    own = tmp_path / "mine.yaml"
    own.write_text("suites:\n  - name: s\n    prompt: p.md\n    dataset: d.jsonl\n")
    assert load_config(own).source is None


def test_a_tests_prefix_suffix_and_transformed_vars_are_sent_with_its_prompt(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        "prompts: ['Hi {{ name }}']\nproviders: [openai:gpt-4.1]\ntests:\n"
        "  - vars: {name: ada}\n"
        "    options: {prefix: 'For {{ name }}: ', suffix: ' ({{ loud }})',"
        " transformVars: '({loud: vars.name.toUpperCase()})'}\n"
        "    assert: [{type: contains, value: Ada}]\n"
        "  - vars: {name: bob}\n    assert: [{type: contains, value: Bob}]\n",
    )
    [plan] = load_project(path).plans
    first, second = plan.cases
    assert first.vars == {"name": "ada", "loud": "ADA"}
    sent = render_prompt(plan.prompt_for(plan.prompt, first), first.vars).text
    assert sent == "For ada: Hi ada (ADA)"
    assert render_prompt(plan.prompt_for(plan.prompt, second), second.vars).text == "Hi bob"
    # The prompt's lines are its own: critiques land there, not on the test's options.
    assert plan.prompt_for(plan.prompt, first).messages[0].start_line == 1


def test_a_shard_keeps_each_case_with_its_own_checks(tmp_path: Path) -> None:
    tests = "".join(
        f"  - vars: {{name: n{i}}}\n    assert: [{{type: contains, value: n{i}}}]\n"
        for i in range(12)
    )
    path = write(
        tmp_path, "prompts: ['Hi {{ name }}']\nproviders: [openai:gpt-4.1]\ntests:\n" + tests
    )
    whole = load_project(path).plans[0]
    halves = [load_project(path, shard=f"{i}/2").plans[0] for i in (1, 2)]
    assert sorted(c.id for h in halves for c in h.cases) == sorted(c.id for c in whole.cases)
    for half in halves:
        assert half.cases and all(half.case_checks[c.id].evaluators for c in half.cases)


def test_provider_tools_and_a_json_schema_reach_the_suite(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        textwrap.dedent(
            """\
            prompts: ['Weather in {{ name }}?']
            providers:
              - id: openai:gpt-4.1-mini
                config:
                  apiBaseUrl: http://127.0.0.1:9/v1
                  tools:
                    - type: function
                      function:
                        name: get_weather
                        parameters: {type: object, properties: {city: {type: string}}}
                  tool_choice: auto
                  response_format:
                    type: json_schema
                    json_schema: {name: w, schema: {type: object}}
            """
        )
        + TESTS,
    )
    project = load_project(path)
    [plan] = project.plans
    assert [t.function.name for t in plan.prompt.settings.tools] == ["get_weather"]
    assert plan.json_schema == {"type": "object"}
    assert project.loaded.config.api_base == "http://127.0.0.1:9/v1"


def test_a_plain_json_response_format_is_named_with_what_to_do(tmp_path: Path) -> None:
    error = refusal(
        tmp_path,
        "prompts: ['Hi {{ name }}']\nproviders:\n  - id: openai:gpt-4.1\n"
        "    config: {response_format: {type: json_object}}\n" + TESTS,
    )
    assert error.line == 3 and "add an is-json assertion" in error.message
