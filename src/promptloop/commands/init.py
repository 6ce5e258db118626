"""`promptloop init`: a small working project to start from."""

from __future__ import annotations

from pathlib import Path

from promptloop.errors import UserError

STARTER_FILES: dict[str, str] = {
    "promptloop.yaml": """\
# promptloop configuration. Reference: promptloop schema (JSON Schema for your editor).
# model: openai/gpt-4o-mini      # any litellm model; default: the embedded local/smollm2
suites:
  - name: summaries
    prompt: prompts/summary.md
    dataset: evals/summaries.jsonl
    threshold: 0.5
    evaluators:
      - icontains: "{{ topic }}"
      - max-length: {words: 25}
      - not-contains: "As an AI"
""",
    "prompts/summary.md": """\
Summarise the following note in one sentence that mentions {{ topic }}.

Note: {{ note }}
""",
    "evals/summaries.jsonl": """\
{"topic": "budget", "note": "The team agreed to cut the travel budget by ten percent next quarter."}
{"topic": "hiring", "note": "Two engineers join in March; hiring for the design role is paused."}
{"topic": "launch", "note": "The mobile launch moves to May because the app store review failed."}
""",
}


def write_starter(directory: Path) -> list[Path]:
    existing = [name for name in STARTER_FILES if (directory / name).exists()]
    if existing:
        raise UserError(
            f"{directory / existing[0]} already exists; promptloop init never overwrites files"
        )
    written = []
    for name, text in STARTER_FILES.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def write_converted(source_config: Path, directory: Path) -> tuple[list[Path], list[str]]:
    """`init --from promptfooconfig.yaml`: promptloop.yaml and its prompt and dataset files
    in ``directory``, and the lines naming what could not be carried over."""
    from promptloop.project.loader import load_config
    from promptloop.project.promptfoo.convert import convert
    from promptloop.project.promptfoo.read import PromptfooSource

    loaded = load_config(source_config)
    if not isinstance(loaded.source, PromptfooSource):
        raise UserError(
            "is not a promptfoo config (no prompts/providers/tests)", path=str(source_config)
        )
    conversion = convert(loaded.config, loaded.source, source_config.name)
    existing = [name for name in conversion.files if (directory / name).exists()]
    if existing:
        raise UserError(
            f"{directory / existing[0]} already exists; promptloop init never overwrites files"
        )
    written = []
    for name, text in conversion.files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written, conversion.not_carried
