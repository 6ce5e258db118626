"""Prompts written inside a larger file: an inline prompt in promptfooconfig.yaml, or one of
several prompts in a text file split by ``---`` lines.

The prompt's text is what is rendered, scored and learned; the file is what a pull request
changes. A ``PromptHost`` keeps the two together: the lines the text occupies (so critiques
land on them), the text written back into the file (so a learned revision is a change to
those lines that keeps the file valid), and the same prompt found in another version of
the file (the base of a pull request).
"""

from __future__ import annotations

from typing import Protocol


class PromptHost(Protocol):
    @property
    def file_text(self) -> str:
        """The whole file, as read."""
        ...

    @property
    def start_line(self) -> int:
        """The first line of the prompt's text in the file (1-based)."""
        ...

    @property
    def end_line(self) -> int:
        """Its last line (inclusive)."""
        ...

    def embed(self, text: str) -> str:
        """The whole file with this prompt's text replaced by ``text``, still valid."""
        ...

    def find_in(self, file_text: str) -> str | None:
        """This prompt's text in another version of the file (None: it is not there)."""
        ...
