"""Reviewers' verdicts on outputs: the feedback file, one JSON line per verdict.

A verdict is about one output, not about a case forever: each record carries the
fingerprint of the output it was given on, and it applies only while a run produces that
same output again. The file lives in the repository beside the dataset, so feedback is
reviewed and merged like any other change; records are only ever appended, and the last
one for an output wins.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from promptloop.bounds import MAX_DATASET_BYTES, check_file_size
from promptloop.dataset.jsonl import json_lines
from promptloop.errors import UserError

ReviewerVerdict = Literal["good", "bad"]
FINGERPRINT_PREFIX = "sha256:"
FEEDBACK_SUFFIX = ".feedback.jsonl"


class FeedbackRecord(BaseModel):
    """One reviewer's verdict on one output of one case."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    case: str = Field(min_length=1, description="The case id, as reports show it.")
    output: str = Field(
        pattern=r"^sha256:[0-9a-f]{16}$",
        description="Fingerprint of the output the verdict was given on (sha256: + 16 hex).",
    )
    verdict: ReviewerVerdict = Field(description="good: this output is right; bad: it is wrong.")
    note: str = Field(default="", description="Why, in the reviewer's words.")
    by: str = Field(min_length=1, description="Who gave the verdict (a GitHub login or a name).")
    at: datetime = Field(description="When, as an ISO 8601 timestamp.")
    source: str = Field(
        min_length=1, description="Where it came from: a comment URL, or `cli` for a local add."
    )

    def applies_to(self, output: str | None) -> bool:
        return output is not None and output_fingerprint(output) == self.output

    def to_line(self) -> str:
        return json.dumps(self.model_dump(mode="json"), ensure_ascii=False)


def output_fingerprint(output: str) -> str:
    """Line endings and surrounding whitespace do not make a different answer."""
    normal = output.replace("\r\n", "\n").strip()
    return FINGERPRINT_PREFIX + hashlib.sha256(normal.encode("utf-8")).hexdigest()[:16]


def default_feedback_path(dataset: str | Sequence[Any], suite_name: str) -> str:
    """Beside the dataset (``evals/people.jsonl`` → ``evals/people.feedback.jsonl``); for an
    inline dataset, beside promptloop.yaml, named after the suite."""
    if isinstance(dataset, str):
        path = PurePosixPath(dataset)
        return str(path.with_name(path.stem + FEEDBACK_SUFFIX))
    return suite_name + FEEDBACK_SUFFIX


def _record_error(exc: ValidationError, display: str, line: int) -> UserError:
    error = exc.errors()[0]
    key = ".".join(str(part) for part in error["loc"]) or None
    if error["type"] == "extra_forbidden":
        allowed = ", ".join(FeedbackRecord.model_fields)
        message = f"unknown key (a feedback record has: {allowed})"
    elif error["type"] == "missing":
        message = "missing"
    else:
        message = error["msg"]
    return UserError(message, path=display, line=line, key=key)


def parse_feedback(text: str, display: str) -> list[FeedbackRecord]:
    """Every record of a feedback file; the first bad line is one ``file:line: key`` error."""
    records = []
    for number, raw in json_lines(text, display):
        if not isinstance(raw, dict):
            raise UserError(
                f"expected one JSON object per line, got {type(raw).__name__}",
                path=display,
                line=number,
            )
        try:
            records.append(FeedbackRecord.model_validate(raw))
        except ValidationError as exc:
            raise _record_error(exc, display, number) from None
    return records


def load_feedback(path: Path, display: str) -> list[FeedbackRecord]:
    """No file yet means no feedback yet."""
    check_file_size(path, MAX_DATASET_BYTES, "feedback file", display)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return []
    except UnicodeDecodeError:
        raise UserError("is not a UTF-8 text file", path=display) from None
    return parse_feedback(text, display)


def append_lines(existing: str, records: Iterable[FeedbackRecord]) -> str:
    """The file's text with ``records`` appended, one line each."""
    lines = [record.to_line() for record in records]
    if not lines:
        return existing
    head = existing if not existing or existing.endswith("\n") else existing + "\n"
    return head + "\n".join(lines) + "\n"


def verdict_for(
    records: Sequence[FeedbackRecord], case_id: str, output: str | None
) -> FeedbackRecord | None:
    """The latest verdict on this case's ``output``; None when no reviewer has seen it."""
    if output is None:
        return None
    fingerprint = output_fingerprint(output)
    matching = [r for r in records if r.case == case_id and r.output == fingerprint]
    return matching[-1] if matching else None


def latest_by_output(records: Sequence[FeedbackRecord]) -> list[FeedbackRecord]:
    """One record per (case, output): the last one written, in file order."""
    last: dict[tuple[str, str], FeedbackRecord] = {}
    for record in records:
        last.pop((record.case, record.output), None)
        last[(record.case, record.output)] = record
    return list(last.values())


def feedback_json_schema() -> dict[str, Any]:
    """JSON Schema of one line of a feedback file."""
    schema = FeedbackRecord.model_json_schema(mode="validation")
    schema["title"] = "promptloop feedback record (one JSON object per line)"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
