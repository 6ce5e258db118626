"""One optimizer call's two ends, which differ between rewrite and rules mode: the
meta-prompt it is sent, and reading its reply into a candidate prompt (or why not)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from promptloop.dataset.cases import Case
from promptloop.engine.outcome import CaseOutcome
from promptloop.errors import UserError
from promptloop.models.base import Message
from promptloop.optimize import guards, metaprompt, reviewers, rules
from promptloop.optimize import tools as tool_guidance
from promptloop.optimize.compact import (
    DEMO_RULES,
    compact_reply_tokens,
    compact_rules_messages,
    failure_lines,
    wants_compact_rules,
)
from promptloop.optimize.packing import Packed, estimate_tokens
from promptloop.optimize.reply import (
    PROMPT_CLOSE,
    RULES_CLOSE,
    parse_prompt_reply,
    parse_rationale,
    parse_rules_reply,
)
from promptloop.optimize.result import Mode
from promptloop.optimize.settings import OptimizerSettings
from promptloop.project.prompts import parse_prompt
from promptloop.project.tool_source import is_chat_path, replace_descriptions


def _with_ending(body: str, like: str) -> str:
    body = body.strip("\n")
    return body + "\n" if like.endswith("\n") else body


@dataclass(frozen=True)
class Proposal:
    text: str | None
    rejection: str | None
    rationale: str


class CandidateBuilder:
    """Everything that differs between rewrite and rules mode."""

    def __init__(
        self,
        mode: Mode,
        seed: str,
        prompt_path: str,
        settings: OptimizerSettings,
        held_out: Sequence[Case],
        notes: Sequence[reviewers.ReviewerNote] = (),
        goal: str = "",
    ) -> None:
        self.notes = tuple(notes)
        self.mode = mode
        self.seed = seed
        self.goal = goal
        self.settings = settings
        self.held_out = held_out
        self.is_yaml = is_chat_path(prompt_path)
        if mode == "rules":
            rules.ensure_supported(prompt_path)
        self.path = prompt_path
        # Raises UserError (file:line) when the seed itself does not parse.
        parsed = parse_prompt(seed, prompt_path)
        self.variables = parsed.variables
        self.prompt_settings = parsed.settings
        self.front, seed_body = ("", seed) if self.is_yaml else guards.split_front_matter(seed)
        self.limit_tokens = int(settings.max_length_ratio * max(estimate_tokens(seed_body), 1))
        self.format_lines = guards.format_instruction_lines(seed)
        # The rules block's markers and heading are scaffolding, not prompt growth.
        self.allowance = estimate_tokens(rules.render_block([])) + 1 if mode == "rules" else 0
        self.closing = RULES_CLOSE if mode == "rules" else PROMPT_CLOSE
        self.compact = mode == "rules" and wants_compact_rules(settings.optimizer_model)
        self.base = guards.split_front_matter(rules.apply_rules(seed, []))[1]
        self.max_rules_tokens = max(self.limit_tokens - estimate_tokens(self.base), 50)

    def max_tokens(self) -> int:
        if self.compact:
            return compact_reply_tokens(self.max_rules_tokens)
        # Room for a prompt at the length limit plus the rationale, so a legal
        # candidate is never cut off by our own output cap.
        return max(self.settings.max_tokens, self.limit_tokens + 400)

    def messages(
        self, current: str, packed: Packed, outcomes: Sequence[CaseOutcome]
    ) -> tuple[Message, ...]:
        if self.compact:
            return compact_rules_messages(
                base_prompt=self.base,
                current_rules=rules.parse_rules(current),
                failures=[
                    *reviewers.compact_lines(self.notes),
                    *failure_lines(outcomes, self.settings.feedback),
                ],
            )
        has_tools = bool(self.prompt_settings.tools)
        calls = tool_guidance.failing_calls(outcomes, self.settings.feedback) if has_tools else ""
        if self.mode == "rules":
            return metaprompt.rules_messages(
                base_prompt=self.base,
                current_rules=rules.parse_rules(current),
                packed=packed,
                variables=self.variables,
                max_rules_tokens=self.max_rules_tokens,
                feedback=self.settings.feedback,
                reviewer_notes=reviewers.render_section(self.notes),
                goal=self.goal,
                tools=tool_guidance.tools_section(self.prompt_settings, revisable=False),
                calls=calls,
            )
        body = current if self.is_yaml else guards.split_front_matter(current)[1]
        return metaprompt.rewrite_messages(
            current_prompt=body,
            packed=packed,
            variables=self.variables,
            format_lines=self.format_lines,
            max_prompt_tokens=self.limit_tokens,
            feedback=self.settings.feedback,
            reviewer_notes=reviewers.render_section(self.notes),
            goal=self.goal,
            original_prompt=self.seed if self.is_yaml else guards.split_front_matter(self.seed)[1],
            # A chat file shows its tools itself; Markdown keeps them in the hidden front matter.
            tools=""
            if self.is_yaml
            else tool_guidance.tools_section(self.prompt_settings, revisable=True),
            calls=calls,
            tools_reply=tool_guidance.reply_instruction(in_file=self.is_yaml) if has_tools else "",
        )

    def propose(self, reply: str) -> Proposal:
        rationale = parse_rationale(reply)
        if self.mode == "rules":
            new_rules = parse_rules_reply(reply, ignore=DEMO_RULES if self.compact else ())
            if new_rules is None:
                return Proposal(None, "no <rules> list found in the reply", rationale)
            if not new_rules:
                return Proposal(None, "the reply's rule list is empty", rationale)
            text = rules.apply_rules(self.seed, new_rules)
        else:
            body = parse_prompt_reply(reply)
            if body is None:
                return Proposal(None, "no <prompt>…</prompt> found in the reply", rationale)
            if self.front and body.lstrip().startswith("---"):
                # The optimizer echoed the front matter; ours is kept verbatim regardless.
                body = guards.split_front_matter(body.lstrip())[1]
            text = self.front + _with_ending(body, self.seed)
            text, rejection = self._revise_tools(reply, text)
            if rejection is not None:
                return Proposal(text, rejection, rationale)
        rejection = guards.check_candidate(
            seed=self.seed,
            candidate=text,
            held_out=self.held_out,
            max_length_ratio=self.settings.max_length_ratio,
            check_format=self.mode == "rewrite",
            leakage_ngram=self.settings.leakage_ngram,
            path=self.path,
            length_allowance=self.allowance,
        )
        return Proposal(text, rejection, rationale)

    def _revise_tools(self, reply: str, text: str) -> tuple[str, str | None]:
        """``text`` with the reply's ``<tools>`` descriptions written into it."""
        changes, rejection = tool_guidance.parse_tools_block(reply, self.prompt_settings.tools)
        if rejection is not None or not changes:
            return text, rejection
        try:
            return replace_descriptions(text, self.path, changes), None
        except UserError as exc:
            return text, f"the new tool descriptions cannot be written: {exc.message}"
