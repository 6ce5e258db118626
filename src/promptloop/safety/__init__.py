"""Untrusted text made safe: neutralised for Markdown (``markdown``), masked for secrets
(``secrets``, one rule for every file, log and comment), escaped for workflow commands
(``workflow_commands``) and for a terminal (``terminal``). The foundation layer: it imports
nothing above it."""

from promptloop.safety.markdown import (
    DEFAULT_BODY_LIMIT,
    GITHUB_BODY_LIMIT,
    ZWJ,
    ZWSP,
    code_block,
    defuse_comments,
    fence_for,
    fenced_lines,
    fingerprint,
    inline_code,
    neutralize,
    open_fence,
    truncate_body,
)
from promptloop.safety.secrets import (
    MASK,
    is_secret_name,
    known_secrets,
    mask_secrets,
    secret_spans,
    url_password,
)
from promptloop.safety.terminal import terminal_text
from promptloop.safety.workflow_commands import (
    AnnotationLevel,
    annotation_command,
    escape_data,
    escape_property,
)

__all__ = [
    "DEFAULT_BODY_LIMIT",
    "GITHUB_BODY_LIMIT",
    "MASK",
    "ZWJ",
    "ZWSP",
    "AnnotationLevel",
    "annotation_command",
    "code_block",
    "defuse_comments",
    "escape_data",
    "escape_property",
    "fence_for",
    "fenced_lines",
    "fingerprint",
    "inline_code",
    "is_secret_name",
    "known_secrets",
    "mask_secrets",
    "neutralize",
    "open_fence",
    "secret_spans",
    "terminal_text",
    "truncate_body",
    "url_password",
]
