"""Workflow commands (``::error file=…::message``) with untrusted text escaped, so a message
can never end the command early or start another one."""

from __future__ import annotations

from typing import Literal

AnnotationLevel = Literal["error", "warning", "notice"]


def escape_data(value: str) -> str:
    """Escape the message part of a workflow command."""
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    """Escape a ``key=value`` property of a workflow command."""
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


def annotation_command(
    level: AnnotationLevel,
    file: str | None,
    line: int | None,
    end_line: int | None,
    title: str | None,
    message: str,
) -> str:
    """``::error file=F,line=L,endLine=E,title=T::message`` with everything escaped."""
    if level not in ("error", "warning", "notice"):
        raise ValueError(f"annotation level must be error, warning or notice, not {level!r}")
    props: list[str] = []
    if file:
        props.append(f"file={escape_property(file)}")
        if line is not None:
            props.append(f"line={int(line)}")
            if end_line is not None and end_line != line:
                props.append(f"endLine={int(end_line)}")
    if title:
        props.append(f"title={escape_property(title)}")
    head = f"::{level} {','.join(props)}" if props else f"::{level}"
    return f"{head}::{escape_data(message)}"
