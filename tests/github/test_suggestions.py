from __future__ import annotations

import difflib

import pytest

from promptloop.github.diff import Hunk, parse_patch
from promptloop.github.suggestions import (
    LineEdit,
    Suggestion,
    line_edits,
    plan_suggestions,
    suggestion_block,
)
from promptloop.safety import fenced_lines


def patch_between(base: str, head: str) -> str:
    """The per-file patch GitHub would show for base → head (headers dropped)."""
    lines = difflib.unified_diff(base.splitlines(), head.splitlines(), lineterm="", n=3)
    return "\n".join(list(lines)[2:])


def block_content(body: str) -> list[str]:
    lines = body.split("\n")
    assert lines[0].endswith("suggestion") and set(lines[0][: -len("suggestion")]) == {"`"}
    assert lines[-1] == lines[0][: -len("suggestion")]
    return lines[1:-1]


def apply(original: str, suggestions: tuple[Suggestion, ...]) -> str:
    """What GitHub does when every suggestion is accepted in one batch."""
    lines = original.splitlines()
    for s in sorted(suggestions, key=lambda s: s.line, reverse=True):
        first = s.start_line or s.line
        lines[first - 1 : s.line] = block_content(s.body)
    return "\n".join(lines) + "\n"


def assert_valid_for_github(suggestions: tuple[Suggestion, ...], hunks: list[Hunk]) -> None:
    for s in suggestions:
        if s.start_line is not None:
            assert s.start_line < s.line
        first = s.start_line or s.line
        assert any(h.contains(first) and h.contains(s.line) for h in hunks)


BASE = "\n".join(f"line {i}" for i in range(1, 41)) + "\n"
# The PR under review changed lines 5-6 and 30; the optimizer then revises the head file.
HEAD = BASE.replace("line 5\nline 6\n", "line 5 (pr)\nline 6 (pr)\n").replace(
    "line 30\n", "l30 pr\n"
)


def test_replacement_inside_hunk_becomes_multiline_suggestion() -> None:
    hunks = parse_patch(patch_between(BASE, HEAD))
    revised = HEAD.replace("line 5 (pr)\nline 6 (pr)\n", "better 5\nbetter 6\nbetter 6b\n")
    plan = plan_suggestions(HEAD, revised, hunks)
    assert plan.complete
    (s,) = plan.suggestions
    assert (s.start_line, s.line) == (5, 6)
    assert block_content(s.body) == ["better 5", "better 6", "better 6b"]
    assert apply(HEAD, plan.suggestions) == revised
    assert_valid_for_github(plan.suggestions, hunks)


def test_single_line_suggestion_has_no_start_line() -> None:
    hunks = parse_patch(patch_between(BASE, HEAD))
    revised = HEAD.replace("l30 pr\n", "l30 better\n")
    (s,) = plan_suggestions(HEAD, revised, hunks).suggestions
    assert s.start_line is None and s.line == 30


def test_context_lines_of_a_hunk_are_usable() -> None:
    hunks = parse_patch(patch_between(BASE, HEAD))
    # Line 8 is context (three lines after the change at 5-6), so GitHub accepts it.
    revised = HEAD.replace("line 8\n", "line eight\n")
    plan = plan_suggestions(HEAD, revised, hunks)
    assert [s.line for s in plan.suggestions] == [8]


def test_change_outside_hunks_is_unplaceable() -> None:
    hunks = parse_patch(patch_between(BASE, HEAD))
    revised = HEAD.replace("line 20\n", "line twenty\n").replace("l30 pr\n", "l30 ok\n")
    plan = plan_suggestions(HEAD, revised, hunks)
    assert [s.line for s in plan.suggestions] == [30]
    assert plan.unplaceable == (LineEdit("replace", 20, 20, ("line twenty",), ("line 20",)),)
    assert not plan.complete


def test_range_straddling_a_hunk_edge_is_unplaceable() -> None:
    hunks = parse_patch(patch_between(BASE, HEAD))
    # Hunk one covers lines 2-9; a range 8-11 leaves it.
    assert hunks[0].new_lines == range(2, 10)
    revised = HEAD.replace("line 8\nline 9\nline 10\nline 11\n", "merged 8-11\n")
    plan = plan_suggestions(HEAD, revised, hunks)
    assert plan.suggestions == ()
    assert plan.unplaceable[0].start == 8 and plan.unplaceable[0].end == 11


def test_deletion_is_an_empty_suggestion() -> None:
    hunks = parse_patch(patch_between(BASE, HEAD))
    revised = HEAD.replace("line 5 (pr)\nline 6 (pr)\n", "")
    (s,) = plan_suggestions(HEAD, revised, hunks).suggestions
    assert (s.start_line, s.line) == (5, 6)
    assert block_content(s.body) == []
    assert apply(HEAD, (s,)) == revised


def test_insertion_repeats_the_line_before() -> None:
    hunks = parse_patch(patch_between(BASE, HEAD))
    revised = HEAD.replace("line 6 (pr)\n", "line 6 (pr)\nnew A\nnew B\n")
    (s,) = plan_suggestions(HEAD, revised, hunks).suggestions
    assert s.line == 6 and s.start_line is None
    assert block_content(s.body) == ["line 6 (pr)", "new A", "new B"]
    assert apply(HEAD, (s,)) == revised


def test_insertion_falls_back_to_the_line_after() -> None:
    base = "a\nb\nc\n"
    head = "A\nb\nc\n"
    # Only line 1 is in the (single-line) hunk when there is no context.
    hunks = parse_patch("@@ -1 +1 @@\n-a\n+A")
    revised = "new first\nA\nb\nc\n"
    (s,) = plan_suggestions(head, revised, hunks).suggestions
    assert s.line == 1
    assert block_content(s.body) == ["new first", "A"]
    assert apply(head, (s,)) == revised
    assert patch_between(base, head)  # sanity: the PR really changed the file


def test_insertion_without_anchor_in_hunk_is_unplaceable() -> None:
    hunks = parse_patch("@@ -1 +1 @@\n-a\n+A")
    plan = plan_suggestions("A\nb\nc\nd\n", "A\nb\nc\nextra\nd\n", hunks)
    assert plan.suggestions == ()
    assert plan.unplaceable[0].kind == "insert"
    assert plan.unplaceable[0].start == 4 and plan.unplaceable[0].end == 3


def test_several_edits_all_accepted_reproduce_the_revision() -> None:
    base = "\n".join(f"b{i}" for i in range(1, 21)) + "\n"
    head = base.replace("b3\nb4\nb5\nb6\nb7\nb8\n", "h3\nh4\nh5\nh6\nh7\nh8\n")
    hunks = parse_patch(patch_between(base, head))
    revised = head.replace("h3\n", "r3\n").replace("h5\nh6\n", "r5\n").replace("h8\n", "h8\nr8+\n")
    plan = plan_suggestions(head, revised, hunks)
    assert plan.complete
    assert len(plan.suggestions) == 3
    assert apply(head, plan.suggestions) == revised
    assert_valid_for_github(plan.suggestions, hunks)


def test_new_file_accepts_any_change() -> None:
    head = "one\ntwo\nthree\n"
    hunks = parse_patch(patch_between("", head))
    plan = plan_suggestions(head, "one\n2\nthree\nfour\n", hunks)
    assert plan.complete
    assert apply(head, plan.suggestions) == "one\n2\nthree\nfour\n"


def test_no_patch_means_nothing_placeable() -> None:
    plan = plan_suggestions("a\n", "b\n", [])
    assert plan.suggestions == () and len(plan.unplaceable) == 1


def test_identical_text_has_no_changes() -> None:
    assert line_edits(HEAD, HEAD) == []
    assert plan_suggestions(HEAD, HEAD, parse_patch(patch_between(BASE, HEAD))).complete


def test_line_edits_kinds() -> None:
    ranges = line_edits("a\nb\nc\nd\n", "a\nB\nc\nd\ne\n")
    assert [(r.kind, r.start, r.end, r.new_lines) for r in ranges] == [
        ("replace", 2, 2, ("B",)),
        ("insert", 5, 4, ("e",)),
    ]
    assert line_edits("a\nb\n", "b\n")[0].kind == "delete"


@pytest.mark.parametrize("text", ["uses ```json fences```", "````", "a `b` c", "ends with `"])
def test_suggestion_fence_survives_backticks(text: str) -> None:
    block = suggestion_block(["before", text, "after"])
    assert block_content(block) == ["before", text, "after"]
    # The whole block is one fenced code piece: the content cannot close it early.
    pieces = list(fenced_lines(block + "\nafter"))
    assert all(in_fence for in_fence, _ in pieces[:-1]) and not pieces[-1][0]


def test_suggestion_text_is_not_altered_by_safety_escaping() -> None:
    hunks = parse_patch("@@ -1 +1 @@\n-a\n+A")
    (s,) = plan_suggestions("A\n", "@team <b>\n", hunks).suggestions
    assert block_content(s.body) == ["@team <b>"]
