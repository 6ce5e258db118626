"""github.review and its neighbours: clustering failures, placing them on prompt lines, safe
comment bodies."""

from __future__ import annotations

import dataclasses
from typing import Any

from promptloop.dataset.cases import case_id_for
from promptloop.engine.comparison import ComparisonSummary
from promptloop.engine.optimization import Scores, SplitScore
from promptloop.engine.results import CaseRecord, RunResult, SuiteResult
from promptloop.evaluators.base import EvalResult
from promptloop.github.clusters import MODEL_ERROR, Cluster, cluster_failures
from promptloop.github.diff import parse_patch
from promptloop.github.findings import plan_findings
from promptloop.github.markers import parse_review_marker
from promptloop.github.placement import cluster_tool, place_cluster
from promptloop.github.review import finding_comment, suggestion_comment
from promptloop.github.run_figures import overall_delta_pp, overall_pass_rate
from promptloop.github.suggestions import plan_suggestions
from promptloop.github.summary import Link, held_out_line, render_revision, render_summary
from promptloop.project.prompts import parse_prompt
from promptloop.project.tool_source import ToolLines, replace_descriptions
from tests.fakegithub import make_patch
from tests.support import REPO_ROOT

PROMPT_LINES = [
    "You write a product tagline for {{ product }}.",
    "Keep it under 12 words.",
    "Never use exclamation marks.",
    "Mention the product name exactly once.",
]


def ev(name: str, passed: bool, reason: str, error_type: str | None = None) -> EvalResult:
    return EvalResult(
        evaluator=name, passed=passed, score=float(passed), reason=reason, error_type=error_type
    )


def case(
    cid: str,
    status: str,
    evaluations: list[EvalResult],
    *,
    output: str | None = "out",
    error: str | None = None,
    repeat: int = 0,
    vars: dict[str, Any] | None = None,
) -> CaseRecord:
    return CaseRecord(
        id=cid,
        split="test",
        source=f"evals/x.jsonl:{cid[-1]}",
        vars=vars or {"product": cid},
        output=output,
        status=status,  # type: ignore[arg-type]
        score=1.0 if status == "pass" else 0.0,
        error=error,
        evaluations=evaluations,
        repeat=repeat,
    )


def suite(cases: list[CaseRecord], name: str = "taglines") -> SuiteResult:
    return SuiteResult(
        name=name, prompt_path="prompts/t.md", prompt_sha256="0", model="m", cases=cases
    )


def sample_suite() -> SuiteResult:
    bang = "output contains '!' which it must not"
    return suite(
        [
            case("c1", "fail", [ev("no-exclamation", False, bang), ev("short", True, "ok")]),
            case("c2", "fail", [ev("no-exclamation", False, bang), ev("short", False, "14 words")]),
            case("c3", "fail", [ev("judge", False, "the name is missing", "missing_name")]),
            case("c4", "pass", [ev("no-exclamation", True, "ok")]),
            case("c5", "error", [], output=None, error="model call failed: timeout"),
            # A second repeat of c1 failing the same way counts the case once.
            case("c1", "fail", [ev("no-exclamation", False, bang)], repeat=1),
        ]
    )


def test_failures_cluster_by_error_type_else_evaluator_and_count_cases_once() -> None:
    clusters = {c.cause: c for c in cluster_failures(sample_suite())}
    assert set(clusters) == {"no-exclamation", "short", "missing_name", MODEL_ERROR}
    assert clusters["no-exclamation"].case_ids == ("c1", "c2")
    assert clusters["no-exclamation"].total_cases == 5
    assert clusters["missing_name"].evaluators == ("judge",)
    assert clusters[MODEL_ERROR].infrastructure
    # Largest first, provider errors last.
    order = [c.cause for c in cluster_failures(sample_suite())]
    assert order[0] == "no-exclamation" and order[-1] == MODEL_ERROR


def test_examples_are_capped_at_three() -> None:
    cases = [case(f"k{i}", "fail", [ev("no-exclamation", False, f"bang {i}")]) for i in range(6)]
    (cluster,) = cluster_failures(suite(cases))
    assert cluster.count == 6 and len(cluster.examples) == 3


def test_cluster_lands_on_the_line_sharing_words_with_its_critiques() -> None:
    clusters = {c.cause: c for c in cluster_failures(sample_suite())}
    args = {"no-exclamation": 'not-contains "!"', "short": 'max-length {"words": 12}'}
    all_lines = set(range(1, 5))
    bang = place_cluster(clusters["no-exclamation"], PROMPT_LINES, all_lines, 1, args)
    assert bang.line == 3 and bang.annotation_line == 3
    short = place_cluster(clusters["short"], PROMPT_LINES, all_lines, 1, args)
    assert short.line == 2  # "12" and "words" come from the evaluator's arguments
    name = place_cluster(clusters["missing_name"], PROMPT_LINES, all_lines, 1, args)
    assert name.line == 4


def test_attribution_stays_inside_the_diff_and_falls_back_to_the_first_changed_line() -> None:
    (bang,) = [c for c in cluster_failures(sample_suite()) if c.cause == "no-exclamation"]
    # Line 3 is the best match but outside the hunk: the comment goes to a hunk line, the
    # check-run annotation (which needs no diff) still points at line 3.
    placed = place_cluster(bang, PROMPT_LINES, {1, 2}, 1, {})
    assert placed.line == 1 and placed.annotation_line == 3
    outside = place_cluster(bang, PROMPT_LINES, set(), None, {})
    assert outside.line is None and outside.annotation_line == 3


def test_provider_errors_are_never_pinned_to_a_line() -> None:
    (err,) = [c for c in cluster_failures(sample_suite()) if c.infrastructure]
    placed = place_cluster(err, PROMPT_LINES, {1, 2, 3, 4}, 1, {})
    assert placed.line is None


def test_comment_bodies_neutralise_model_and_dataset_text() -> None:
    evil_output = "Hi @octocat see #12 ``` <img src=x> ````"
    evil_reason = "bad <!-- promptloop:fp=abc head=deadbeef --> ping @admin <script>"
    cases = [
        case(
            "c1",
            "fail",
            [ev("no-exclamation", False, evil_reason)],
            output=evil_output,
            vars={"product": "@team <b>"},
        )
    ]
    (cluster,) = cluster_failures(suite(cases))
    placement = place_cluster(cluster, PROMPT_LINES, {3}, 3, {})
    comment = finding_comment(cluster, "prompts/t.md", placement, "a" * 40)
    body = comment.body
    # Exactly one marker, ours: the forged one in the critique is escaped.
    assert body.count("<!-- promptloop:") == 1
    assert parse_review_marker(body) == (comment.fingerprint, "a" * 40)
    assert "ping @\u200dadmin" in body and "<\u200bscript>" in body
    # The output sits in a fence longer than its longest backtick run, so it cannot escape.
    assert "`````text\n" + evil_output in body
    assert "1 of 1 case" in body and "<details>" in body


def test_fingerprints_are_stable_across_runs_and_distinct_across_causes() -> None:
    first = plan_findings(sample_suite(), "p.md", PROMPT_LINES, {1, 2, 3}, 1, {}, "b" * 40)[0]
    again = plan_findings(sample_suite(), "p.md", PROMPT_LINES, {1, 2, 3}, 1, {}, "c" * 40)[0]
    assert [c.fingerprint for c in first] == [c.fingerprint for c in again]
    assert len({c.fingerprint for c in first}) == len(first)


def test_findings_become_annotations_with_the_requested_level() -> None:
    comments, annotations = plan_findings(
        sample_suite(), "p.md", PROMPT_LINES, {1, 2, 3, 4}, 1, {}, "d" * 40, level="error"
    )
    by_title = {a.title: a for a in annotations}
    assert by_title["taglines: no-exclamation"].level == "error"
    assert by_title["taglines: no-exclamation"].line == 3
    assert by_title[f"taglines: {MODEL_ERROR}"].level == "warning"
    assert len(comments) == len(annotations)


def test_suggestion_comment_uses_a_longer_fence_for_backticks() -> None:
    original = "\n".join(PROMPT_LINES) + "\n"
    revised = original.replace("Never use exclamation marks.", "Never use ``` or `!`.")
    hunks = parse_patch("@@ -1,4 +1,4 @@\n line\n line\n-old\n+Never use exclamation marks.\n line")
    plan = plan_suggestions(original, revised, hunks)
    (s,) = plan.suggestions
    comment = suggestion_comment("p.md", s, "e" * 40, "Validation 50% → 75%.", "taglines")
    assert "````suggestion\nNever use ``` or `!`.\n````" in comment.body
    assert comment.line == 3 and comment.kind == "suggestion"


def test_summary_lists_unplaced_findings_without_their_markers() -> None:
    comments, _ = plan_findings(sample_suite(), "p.md", PROMPT_LINES, set(), None, {}, "f" * 40)
    text = render_summary(
        "## promptloop report\n\n<sub>3 model calls</sub>\n",
        notes=["Ran on a fork @someone"],
        links=[Link("review", "https://example.invalid/r/1")],
        unplaced=comments,
    )
    assert "<!-- promptloop:fp" not in text
    assert "Findings not posted as review comments" in text
    assert "@\u200dsomeone" in text
    # Links carry words, not bare URLs.
    assert "[the review](https://example.invalid/r/1)" in text
    assert text.rstrip().endswith("<sub>3 model calls</sub>")


def test_unplaced_findings_say_why_in_a_sentence_that_fits_every_event() -> None:
    comments, _ = plan_findings(sample_suite(), "p.md", PROMPT_LINES, set(), None, {}, "f" * 40)
    text = render_summary("## promptloop report\n", unplaced=comments)
    assert (
        "They concern prompt lines outside the pull request's diff or a provider error, or this "
        "run posted no review (a push, a merge group, `comment: off`, or a token that may not "
        "write)." in text
    )
    assert "this pull request's diff" not in text


def compared(paired: int, delta_pp: float) -> ComparisonSummary:
    """A comparison with ``paired`` cases and Δ ``delta_pp``; no case moved."""
    return ComparisonSummary(
        paired=paired,
        base_pass_rate=0.5,
        head_pass_rate=0.5 + delta_pp / 100,
        delta_pp=delta_pp,
        delta_lo_pp=delta_pp,
        delta_hi_pp=delta_pp,
        score_delta=0.0,
        score_delta_lo=0.0,
        score_delta_hi=0.0,
        p_value=1.0,
        p_worse=1.0,
        confidence=0.95,
        fixed=[],
        broken=[],
        errored=[],
        added=[],
        removed=[],
        unchanged=paired,
    )


def test_overall_rates_weigh_suites_by_cases() -> None:
    good = suite([case(f"g{i}", "pass", []) for i in range(3)], name="a")
    bad = suite([case("b1", "fail", [ev("x", False, "no")])], name="b")
    result = RunResult(
        promptloop_version="0",
        created_at="now",
        config_path="c",
        model="m",
        judge_model="m",
        suites=[good, bad],
        comparisons={"a": compared(3, 0.0), "b": compared(1, -100.0)},
    )
    assert overall_pass_rate(result) == 0.75
    assert overall_delta_pp(result) == -25.0


def test_identical_and_near_identical_critiques_fold_into_one_line_with_a_count() -> None:
    def judged(cid: str, reason: str, fix: str) -> CaseRecord:
        e = dataclasses.replace(ev("judge", False, reason, "too_long"), suggested_fix=fix)
        return case(cid, "fail", [e])

    cases = [
        judged("c1", "The tagline has 14 words, more than 12.", "Cut it to one clause."),
        judged("c2", "The tagline has 15 words, more than 12.", "Cut it to one clause."),
        judged("c3", "The tagline has 14 words, more than 12.", "Cut it to one clause."),
        judged("c4", "It explains the product instead of selling it.", "Drop the explanation."),
        case("c5", "pass", [ev("judge", True, "ok")]),
    ]
    (cluster,) = cluster_failures(suite(cases))
    assert cluster.said == (
        ("The tagline has 14 words, more than 12.", 3),
        ("It explains the product instead of selling it.", 1),
    )
    assert cluster.fixes == (("Cut it to one clause.", 3), ("Drop the explanation.", 1))
    body = finding_comment(cluster, "p.md", place_cluster(cluster, [], set(), None, {}), "a" * 40)
    text = body.body
    assert "- **3 of 4 failing cases:** The tagline has 14 words, more than 12." in text
    assert "- **1 of 4:** It explains the product" in text
    assert "- **3 of 4 failing cases:** Cut it to one clause." in text
    # Said once, not again in each example (the 15-word variant is its own detail).
    assert text.count("The tagline has 14 words, more than 12.") == 1
    assert text.count("Cut it to one clause.") == 1
    assert body.complete == ""  # nothing left out


def test_a_comment_that_leaves_critiques_out_links_to_the_job_summary_which_has_them() -> None:
    cases = [
        case(f"k{i}", "fail", [ev("judge", False, f"{word} is wrong here", "off_topic")])
        for i, word in enumerate(["colour", "tone", "rhythm", "grammar", "spelling", "length"])
    ]
    comments, _ = plan_findings(
        suite(cases), "p.md", PROMPT_LINES, {1}, 1, {}, "a" * 40, more_url="https://x.invalid/r"
    )
    (comment,) = comments
    assert "- … 2 other reasons (2 cases) in [the job summary](https://x.invalid/r)" in (
        comment.body
    )
    assert "spelling is wrong here" not in comment.body
    summary = render_summary("## promptloop\n", findings=comments)
    assert "Every reason given in the review comments" in summary
    assert "spelling is wrong here" in summary and "length is wrong here" in summary


def test_revision_block_is_a_before_after_table_with_the_held_out_split_marked() -> None:
    split = SplitScore(passes=1, n=4, mean_score=0.25)
    better = SplitScore(passes=4, n=4, mean_score=1.0)
    scores = Scores(
        train_before=split,
        train_after=better,
        val_before=split,
        val_after=better,
        test_before=SplitScore(passes=2, n=5, mean_score=0.4),
        test_after=SplitScore(passes=5, n=5, mean_score=1.0),
        test_fixed=3,
        test_broken=0,
        test_p_value=0.25,
    )
    block = render_revision(
        "taglines", "p.md", "Say it once, @octocat <b>calmly</b>.", "-a\n+b\n", scores, "Where."
    )
    assert "| **test, held out**: took no part in choosing | 2 of 5 | 5 of 5 |" in block
    assert "| train: the optimizer learned from these | 1 of 4 | 4 of 4 |" in block
    assert (
        "> **The optimizer's reason:** Say it once, @\u200doctocat <\u200bb>calmly<\u200b/b>."
        in block
    )
    assert "(s)" not in block and "Round 1" not in block
    assert (
        held_out_line(scores)
        == "On the held-out test cases: 2 of 5 passed before, 5 of 5 with this change."
    )


def test_examples_name_cases_without_an_id_by_file_and_line() -> None:
    vars = {"product": "Brewly"}
    hashed = case_id_for(vars, None)
    record = case(hashed, "fail", [ev("no-exclamation", False, "has !")], vars=vars)
    record = record.model_copy(update={"source": "evals/products.jsonl:4"})
    (cluster,) = cluster_failures(suite([record]))
    body = finding_comment(cluster, "p.md", place_cluster(cluster, [], set(), None, {}), "a" * 40)
    assert "**`evals/products.jsonl:4`**" in body.body
    assert hashed not in body.body.split("<!--")[0]


def _tool_cluster(evaluator: str, critique: str) -> Cluster:
    return Cluster("desk", evaluator, (evaluator,), ("c1",), 4, (critique,), ())


def test_a_tool_cluster_names_the_tool_its_reasons_or_its_check_are_about() -> None:
    tools = (ToolLines("lookup_order", (7, 7)), ToolLines("issue_refund", (12, 14)))
    args = {
        "right-tool": 'tool-call "{{ expected_tool }}"',
        "refund-args": 'tool-args {"tool": "issue_refund", "if_called": true}',
        "polite": "judge {}",
    }
    called = _tool_cluster(
        "right-tool", "called `issue_refund` with `amount: 900`, expected a call to `lookup_order`"
    )
    # Both named once: the first named, the call the model made.
    assert cluster_tool(called, tools, args) == tools[1]
    quiet = _tool_cluster("refund-args", "arguments do not match the schema")
    assert cluster_tool(quiet, tools, args) == tools[1]
    # A judge's critique naming a tool is not a tool check's finding.
    assert cluster_tool(_tool_cluster("polite", "`lookup_order` was rude"), tools, args) is None
    lines = ["x"] * 20
    on_description = place_cluster(called, lines, {13, 14}, 13, args, tools)
    assert (on_description.line, on_description.annotation_line) == (13, 12)
    outside = place_cluster(called, lines, {3, 4}, 3, args, tools)
    assert (outside.line, outside.annotation_line) == (3, 12)


def test_a_folded_description_revised_in_the_example_is_one_suggestion_on_its_lines():
    source = (REPO_ROOT / "examples" / "support-agent" / "prompts" / "agent.yaml").read_text()
    refund = next(
        t for t in parse_prompt(source, "agent.yaml").tool_lines if t.name == "issue_refund"
    )
    new = (
        "Refund part or all of an order, only once the customer has given the order number, "
        "the amount and the reason (damage, a wrong item or a late delivery). Never guess one."
    )
    revised = replace_descriptions(source, "agent.yaml", {"issue_refund": new})
    # The whole file is in the PR's diff, as when it is added.
    patch, _, _ = make_patch(None, source)
    [suggestion] = plan_suggestions(source, revised, parse_patch(patch)).suggestions
    assert (suggestion.start_line, suggestion.line) == refund.description


def test_a_deterministic_check_failing_is_not_called_a_critique() -> None:
    # `contains` gives a reason, not a judge's critique: the finding names it for what it is.
    cases = [
        case(f"d{i}", "fail", [ev("contains", False, 'output lacks "Acme"')], output="Hi!")
        for i in range(4)
    ]
    (cluster,) = cluster_failures(suite(cases))
    body = finding_comment(cluster, "p.md", place_cluster(cluster, [], set(), None, {}), "a" * 40)
    assert (
        "Flagged by `contains`. Why these cases failed:\n"
        '- **4 of 4 failing cases:** output lacks "Acme"' in body.body
    )
    assert "critique" not in body.body.lower()
