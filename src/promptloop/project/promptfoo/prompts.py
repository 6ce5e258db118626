"""promptfoo's ``prompts:`` read into prompt templates that know where they are written.

An inline prompt's lines are its lines in the config, a text file's prompts (split by
``---`` lines) are their lines in that file, and a chat file (.json, .yaml) is read as
promptloop reads its own chat prompts. Labels and ids are kept for ``providers[].prompts``.
"""

from __future__ import annotations

import glob
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

import yaml
from pydantic import ValidationError

from promptloop.bounds import MAX_PROMPT_BYTES, check_file_size, confined
from promptloop.errors import UserError
from promptloop.project.promptfoo.hosts import section_hosts, yaml_host
from promptloop.project.promptfoo.schema import PromptObject
from promptloop.project.prompts import PromptTemplate, load_prompt, parse_hosted
from promptloop.yamlpos import Located, PathKey, format_loc

_CHAT_SUFFIXES = (".json", ".yaml", ".yml")
_CODE_SUFFIXES = (".py", ".js", ".cjs", ".mjs", ".ts", ".jsonl")
_GLOB = set("*?[")


@dataclass(frozen=True)
class Prompt:
    template: PromptTemplate
    # The file it is written in, relative to the config's directory.
    file: str
    # What ``providers[].prompts`` may call it: its label, its id, its text.
    names: frozenset[str]
    # A label the user gave, which names its suite.
    label: str | None = None
    # Prompt-level ``config`` (temperature, max_tokens ...): over the provider's.
    config: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Where:
    config_text: str
    config_path: str  # as shown in messages
    config_file: str  # the config's own name, relative to its directory
    root: yaml.Node | None
    located: Located
    base_dir: Path

    def line(self, loc: PathKey) -> int | None:
        return self.located.line_for(loc)

    def error(self, message: str, loc: PathKey) -> UserError:
        return UserError(message, path=self.config_path, line=self.line(loc), key=format_loc(loc))


def read_prompts(
    raw: Any,
    *,
    config_text: str,
    config_path: str,
    root: yaml.Node | None,
    located: Located,
    base_dir: Path,
) -> list[Prompt]:
    where = _Where(config_text, config_path, PurePath(config_path).name, root, located, base_dir)
    items: list[tuple[PathKey, Any, str | None]]
    if isinstance(raw, str):
        items = [(("prompts",), raw, None)]
    elif isinstance(raw, Mapping):
        # ``{file://x.txt: label}``
        items = [(("prompts", str(k)), str(k), str(v)) for k, v in raw.items()]
    elif isinstance(raw, list):
        items = [(("prompts", i), item, None) for i, item in enumerate(raw)]
    else:
        raise where.error("`prompts` must be a list of prompts", ("prompts",))
    prompts: list[Prompt] = []
    for loc, item, label in items:
        prompts += _read_item(where, loc, item, label)
    if not prompts:
        raise where.error("no prompts: write at least one under `prompts:`", ("prompts",))
    return prompts


def _read_item(where: _Where, loc: PathKey, item: Any, label: str | None) -> list[Prompt]:
    if isinstance(item, str):
        if item.startswith("file://"):
            return _from_files(where, loc, item.removeprefix("file://"), label, {})
        return [_inline(where, loc, item, label, None, {})]
    if not isinstance(item, Mapping):
        raise where.error("a prompt is a string, file://PATH or {id|raw, label}", loc)
    try:
        obj = PromptObject.model_validate(item)
    except ValidationError as exc:
        bad = exc.errors()[0]
        key = ".".join(str(p) for p in bad["loc"])
        raise where.error(f"{key}: {bad['msg']}", (*loc, *bad["loc"])) from None
    if obj.function is not None:
        raise where.error("prompt functions are code promptloop does not run", (*loc, "function"))
    config = obj.config if isinstance(obj.config, Mapping) else {}
    label = obj.label or label
    if obj.raw is not None:
        return [_inline(where, (*loc, "raw"), obj.raw, label, obj.id, config)]
    if obj.id is not None and obj.id.startswith("file://"):
        return _from_files(where, (*loc, "id"), obj.id.removeprefix("file://"), label, config)
    if obj.id is not None:
        return [_inline(where, (*loc, "id"), obj.id, label, obj.id, config)]
    raise where.error("a prompt object needs `raw:` or `id:`", loc)


def _inline(
    where: _Where,
    loc: PathKey,
    text: str,
    label: str | None,
    prompt_id: str | None,
    config: Mapping[str, Any],
) -> Prompt:
    if text.lstrip().startswith(("[", "{")) and '"role"' in text:
        raise where.error(
            "a chat prompt written inline is not supported: put the messages in a .json "
            "file and write file://that.json",
            loc,
        )
    host = yaml_host(where.config_text, where.config_path, where.root, loc)
    template = parse_hosted(text, where.config_path, host)
    names = {text, *(n for n in (label, prompt_id) if n)}
    return Prompt(template, where.config_file, frozenset(names), label, config)


def _from_files(
    where: _Where, loc: PathKey, written: str, label: str | None, config: Mapping[str, Any]
) -> list[Prompt]:
    if any(c in written for c in _GLOB):
        found = sorted(glob.glob(written, root_dir=where.base_dir, recursive=True))
        files = [Path(f).as_posix() for f in found]
        if not files:
            raise where.error(f"no file matches file://{written}", loc)
    else:
        files = [written]
    prompts: list[Prompt] = []
    for relative in files:
        prompts += _from_file(where, loc, relative, label, config)
    return prompts


def _shown(where: _Where, relative: str) -> str:
    parent = PurePath(where.config_path).parent
    return relative if str(parent) in ("", ".") else str(parent / relative)


def _from_file(
    where: _Where, loc: PathKey, relative: str, label: str | None, config: Mapping[str, Any]
) -> list[Prompt]:
    path = confined(relative, where.base_dir, lambda message: where.error(message, loc))
    suffix = path.suffix.lower()
    shown = _shown(where, relative)
    if suffix in _CODE_SUFFIXES or ":" in relative:
        raise where.error(
            f"file://{relative}: prompts made by code (or JSONL) are not supported; "
            "write the prompt as a text or chat (.json) file",
            loc,
        )
    if not path.is_file():
        raise where.error(f"prompt file {shown} not found", loc)
    names = {f"file://{relative}", *(n for n in (label,) if n)}
    if suffix in _CHAT_SUFFIXES:
        template = load_prompt(path, shown)
        return [Prompt(template, relative, frozenset(names), label, config)]
    check_file_size(path, MAX_PROMPT_BYTES, "prompt file", shown)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise where.error(f"cannot read prompt file {shown}: {error}", loc) from None
    sections = section_hosts(text)
    if not sections:
        raise UserError("prompt file is empty", path=shown)
    prompts = []
    for index, (body, host) in enumerate(sections):
        # Several prompts in one file: each its own name, so each its own suite.
        own = label if len(sections) == 1 or label is None else f"{label}-{index + 1}"
        template = parse_hosted(body, shown, host)
        prompts.append(
            Prompt(
                template,
                relative,
                frozenset({*names, body, f"file://{relative}:{index}"}),
                own,
                config,
            )
        )
    return prompts
