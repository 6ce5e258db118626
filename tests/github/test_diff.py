from __future__ import annotations

import difflib

import pytest

from promptloop.github.diff import (
    PatchError,
    hunk_containing,
    parse_patch,
)

# Two hunks as GitHub's /pulls/{n}/files returns them: no ---/+++ headers, a section heading.
TWO_HUNKS = (
    "@@ -1,5 +1,6 @@\n"
    " system: |\n"
    "-  You are a helpful assistant.\n"
    "+  You are a careful assistant.\n"
    "+  Answer in one sentence.\n"
    "   Be concise.\n"
    " \n"
    " user: |\n"
    "@@ -20,4 +21,3 @@ examples:\n"
    "   - input: hi\n"
    "-    output: hello\n"
    "-    note: greeting\n"
    "+    output: hello there\n"
    "   - input: bye"
)


def test_two_hunks_right_side_ranges_and_kinds() -> None:
    first, second = parse_patch(TWO_HUNKS)
    assert (first.old_start, first.old_count, first.new_start, first.new_count) == (1, 5, 1, 6)
    assert first.added == {2, 3}
    assert first.context == {1, 4, 5, 6}
    assert first.deleted == {2}
    assert second.section == "examples:"
    assert second.added == {22}
    assert second.context == {21, 23}
    assert second.deleted == {21, 22}
    assert [h.new_lines for h in parse_patch(TWO_HUNKS)] == [range(1, 7), range(21, 24)]


def test_hunk_containing_respects_gaps_between_hunks() -> None:
    hunks = parse_patch(TWO_HUNKS)
    assert hunk_containing(hunks, 6) is hunks[0]
    assert hunk_containing(hunks, 7) is None
    assert hunk_containing(hunks, 20) is None
    assert hunk_containing(hunks, 21) is hunks[1]
    assert hunk_containing(hunks, 24) is None
    assert hunks[0].contains_range(2, 6)
    assert not hunks[0].contains_range(5, 21)
    assert not hunks[0].contains_range(4, 3)


def test_no_newline_markers_on_both_sides() -> None:
    patch = (
        "@@ -1,2 +1,2 @@\n"
        " first\n"
        "-second\n"
        "\\ No newline at end of file\n"
        "+second, revised\n"
        "\\ No newline at end of file"
    )
    (hunk,) = parse_patch(patch)
    assert hunk.added == {2}
    assert hunk.context == {1}
    assert hunk.deleted == {2}
    assert {n for h in parse_patch(patch) for n in h.new_lines} == {1, 2}


def test_no_newline_marker_between_hunks() -> None:
    patch = "@@ -1 +1 @@\n-a\n\\ No newline at end of file\n+b\n@@ -10,2 +10,3 @@\n x\n+y\n z\n"
    hunks = parse_patch(patch)
    assert [h.new_lines for h in hunks] == [range(1, 2), range(10, 13)]


def test_omitted_counts_mean_one_and_new_file() -> None:
    (hunk,) = parse_patch("@@ -0,0 +1,3 @@\n+a\n+b\n+c")
    assert hunk.added == {1, 2, 3}
    assert hunk.old_count == 0
    (single,) = parse_patch("@@ -7 +7 @@\n-x\n+y\n")
    assert single.new_lines == range(7, 8)


def test_deleted_file_has_no_commentable_lines() -> None:
    patch = "@@ -1,2 +0,0 @@\n-a\n-b"
    (hunk,) = parse_patch(patch)
    assert hunk.new_count == 0
    assert hunk_containing([hunk], 0) is None


@pytest.mark.parametrize("patch", [None, ""])
def test_missing_patch_means_nothing_is_commentable(patch: str | None) -> None:
    assert parse_patch(patch) == []


def test_empty_context_line_without_its_space() -> None:
    (hunk,) = parse_patch("@@ -1,3 +1,3 @@\n a\n\n-b\n+c")
    assert hunk.context == {1, 2}
    assert hunk.added == {3}


def test_crlf_file_content_is_kept_per_line() -> None:
    (hunk,) = parse_patch("@@ -1,2 +1,2 @@\r\n a\r\n-b\r\n+c\r\n")
    assert hunk.added == {2}


@pytest.mark.parametrize(
    ("patch", "fragment"),
    [
        ("diff --git a/x b/x\n@@ -1 +1 @@\n-a\n+b", "line 1: expected a hunk header"),
        ("@@ -1,2 +1,2 @@\n a\n", "ends inside the hunk"),
        ("@@ -1 +1 @@\n-a\n+b\n+c", "line 4: expected a hunk header"),
        ("@@ -1,2 +1,2 @@\n a\n?b", "line 3: unexpected line"),
        ("@@ -1 +1,2 @@\n a\n a\n", "more context lines"),
    ],
)
def test_malformed_patches_name_the_line(patch: str, fragment: str) -> None:
    with pytest.raises(PatchError, match=fragment):
        parse_patch(patch)


def test_agrees_with_difflib_on_a_generated_patch() -> None:
    old = [f"line {i}" for i in range(1, 61)]
    new = list(old)
    new[4] = "line 5 changed"
    new.insert(30, "inserted")
    del new[50:52]
    body = list(difflib.unified_diff(old, new, lineterm="", n=3))[2:]
    patch = "\n".join(body)
    hunks = parse_patch(patch)
    assert len(hunks) == 3
    added_text = {new[n - 1] for h in hunks for n in h.added}
    assert added_text == {"line 5 changed", "inserted"}
    # Every context line on the right matches the head text at that number.
    for h in hunks:
        for n in h.context:
            assert new[n - 1] in old
        assert h.new_start + h.new_count - 1 <= len(new)
