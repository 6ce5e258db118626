"""`promptloop init`: a small working project to start from, able to do everything the
Quick start shows (run, a baseline comparison, optimize, reviewers' feedback)."""

from __future__ import annotations

import json
from pathlib import Path

from promptloop.errors import UserError

# (id, topic, note). Twelve cases: enough for optimize's train/validation/test splits to
# each get some, few enough that the embedded model answers them all in a minute.
_CASES = (
    ("budget", "budget", "The team agreed to cut the travel budget by ten percent next quarter."),
    ("hiring", "hiring", "Two engineers join in March; hiring for the design role is paused."),
    ("launch", "launch", "The mobile launch moves to May because the app store review failed."),
    (
        "office-move",
        "office",
        "The office moves to the fourth floor on Friday; pack your desks by Thursday noon.",
    ),
    (
        "security-training",
        "security",
        "Everyone must finish the phishing training before the end of the month.",
    ),
    (
        "outage",
        "outage",
        "Checkout was down for forty minutes on Tuesday after a database upgrade went wrong.",
    ),
    (
        "customer-survey",
        "survey",
        "The customer survey shows most users want a dark mode and faster search.",
    ),
    (
        "holiday-rota",
        "holiday",
        "Support needs two volunteers to cover the holiday rota between Christmas and New Year.",
    ),
    (
        "pricing",
        "pricing",
        "The basic plan goes up by two dollars in July; existing customers keep their price.",
    ),
    (
        "offsite",
        "offsite",
        "The team offsite is in Lisbon in September; book flights through the travel desk.",
    ),
    ("laptops", "laptops", "Old laptops are collected next week; back up your files by Wednesday."),
    ("release-notes", "release", "Version 4.2 ships on Monday with offline mode and new settings."),
)

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
    # Every case has an id: the name the console prints is the one `feedback add` takes.
    "evals/summaries.jsonl": "".join(
        json.dumps({"id": case_id, "topic": topic, "note": note}) + "\n"
        for case_id, topic, note in _CASES
    ),
}

# What a run leaves in the project that is not meant to be committed.
GITIGNORE_LINES = (".promptloop/", "promptloop-results/")


def _gitignore(directory: Path) -> Path | None:
    """Add our lines to the folder's .gitignore (created if missing); None if all were there."""
    path = directory / ".gitignore"
    existing = path.read_text(encoding="utf-8") if path.is_file() else ""
    have = {line.strip() for line in existing.splitlines()}
    missing = [line for line in GITIGNORE_LINES if line not in have]
    if not missing:
        return None
    lead = "" if not existing or existing.endswith("\n") else "\n"
    block = "# promptloop: the response cache and the run reports\n" + "\n".join(missing)
    path.write_text(f"{existing}{lead}{block}\n", encoding="utf-8")
    return path


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
    ignored = _gitignore(directory)
    if ignored is not None:
        written.append(ignored)
    return written


def write_converted(source_config: Path, directory: Path) -> tuple[list[Path], list[str]]:
    """`init --from promptfooconfig.yaml`: promptloop.yaml and its prompt and dataset files
    in ``directory``, and the lines naming what could not be carried over."""
    from promptloop.project.loaded import load_config
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
