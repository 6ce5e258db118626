"""`promptloop run --baseline REF` in a real git repository: base vs head, paired, gated."""

from __future__ import annotations

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from promptloop.cli import cli
from promptloop.engine.results import read_results
from promptloop.models.scripted import clear_scripts, register_script, script_calls

PROJECTS = Path(__file__).parents[1] / "fixtures" / "projects"
NEGATIVE_WORDS = ("Terrible", "Broke", "battery", "ignored")
# The head prompt asks for sarcasm; the scripted model then gets these reviews wrong.
BROKEN_BY_SARCASM = ("loved", "Terrible", "arrived early", "Broke", "Best", "battery")
OTHER_PROMPT = "Is this review about shipping? Answer yes or no.\nReview: {{ text }}\n"

# Sampling (the scripted model ignores it and answers the same every time): the gate
# then has a reason to look twice, and finds out that the answers repeat.
CONFIG = """\
model: scripted/base-head
seed: 3
temperature: 0.7
suites:
  - name: sentiment
    prompt: prompts/classify.md
    dataset: evals/reviews.jsonl
    evaluators:
      - equals: "{{ label }}"
        name: label
  - name: shipping
    prompt: prompts/shipping.md
    dataset: evals/reviews.jsonl
    evaluators:
      - icontains: "no"
        name: says-no
"""


@pytest.fixture(autouse=True)
def _scripts() -> Iterator[None]:
    clear_scripts()
    yield
    clear_scripts()


def answer(call: dict[str, Any]) -> str:
    """A model whose answer depends on the prompt text, as a real one's does."""
    text = "\n".join(str(m.get("content") or "") for m in call["messages"])
    if "about shipping" in text:
        return "no"
    negative = any(w in text for w in NEGATIVE_WORDS)
    if "sarcastic" in text and any(w in text for w in BROKEN_BY_SARCASM):
        negative = not negative
    return "negative" if negative else "positive"


def git(repo: Path, *args: str) -> str:
    proc = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    )
    return proc.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, str]:
    """A repo whose base commit has the good prompt; returns (path, base sha)."""
    root = tmp_path / "repo"
    shutil.copytree(PROJECTS / "sentiment", root)
    (root / "promptloop.yaml").write_text(CONFIG)
    (root / "prompts" / "shipping.md").write_text(OTHER_PROMPT)
    (root / ".gitignore").write_text("out*/\n.promptloop/\n")
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-qm", "base")
    return root, git(root, "rev-parse", "HEAD")


def commit_head(root: Path, prompt_text: str) -> None:
    (root / "prompts" / "classify.md").write_text(prompt_text)
    git(root, "commit", "-qam", "head")


def run(root: Path, *extra: str) -> Any:
    register_script("base-head", answer)
    return CliRunner().invoke(
        cli, ["run", str(root), "-o", str(root / "out"), "-q", *extra], catch_exceptions=False
    )


def test_regression_against_base_fails_the_gate_with_figures(repo: tuple[Path, str]) -> None:
    root, base_sha = repo
    head_prompt = (root / "prompts" / "classify.md").read_text() + "Be sarcastic.\n"
    commit_head(root, head_prompt)
    res = run(root, "--baseline", base_sha)
    assert res.exit_code == 1, res.output
    result = read_results(root / "out" / "results.json")

    assert result.baseline_ref == base_sha
    assert [s.name for s in result.baseline] == ["sentiment"]
    assert result.baseline[0].variant == "base"
    assert result.baseline[0].prompt_sha256 != result.suites[0].prompt_sha256
    assert result.unchanged_suites == ["shipping"]
    # The unchanged suite ran once (head only): 8 shipping calls. The changed one ran its
    # 8 cases on head and base, then the 6 that changed once more on each side: this model
    # answers the same on every draw, so the second confirmation run was skipped.
    calls = script_calls("base-head")
    prompts = ["\n".join(m["content"] for m in c["messages"]) for c in calls]
    assert sum("about shipping" in p for p in prompts) == 8
    assert sum("sarcastic" in p for p in prompts) == 8 + 6
    assert len(prompts) == 8 + 16 + 6 * 2
    # Confirmation runs are fresh draws: seeds after the first look's.
    assert sorted({c["seed"] for c in calls}) == [3, 4]
    assert [len(s.confirmation_runs) for s in (*result.suites, *result.baseline)] == [6, 0, 6]
    confirmation = result.comparisons["sentiment"].confirmation
    assert confirmation.cases == 6 and confirmation.runs == 1
    assert confirmation.delta_pp == pytest.approx(-75.0)
    assert confirmation.complete is True

    cmp = result.comparisons["sentiment"]
    assert sorted(item.case_id for item in cmp.broken) == [
        "r01",
        "r02",
        "r03",
        "r04",
        "r05",
        "r06",
    ]
    assert cmp.fixed == []
    assert cmp.base_pass_rate == 1.0
    assert cmp.head_pass_rate == pytest.approx(0.25)
    assert cmp.delta_pp == pytest.approx(-75.0)
    assert 0 < cmp.p_value < 0.05
    broken_r01 = next(i for i in cmp.broken if i.case_id == "r01")
    assert (broken_r01.base_output, broken_r01.head_output) == ("positive", "negative")
    assert cmp.outputs_unchanged == 2 and cmp.look == "first"
    assert not any(item.output_unchanged for item in cmp.broken)

    verdict = result.verdicts["sentiment"]
    assert verdict.status == "fail"
    assert "regression" in verdict.failed_checks
    assert any(ch.isdigit() for ch in verdict.reason) and "%" in verdict.reason
    assert "re-running the 6 changed cases 1 more time on each side confirms" in verdict.reason
    assert result.verdict is not None and result.verdict.status == "fail"

    report = (root / "out" / "report.md").read_text()
    # The first screen: verdict, why in one line, what next, one five-column table.
    first_screen = report.split("<details>")[0]
    assert first_screen.startswith("## promptloop ❌ FAIL")
    assert (
        "**Why:** 1 of 2 suites fails; in sentiment, the pass rate fell from 100% on the base "
        "to 25% with the change" in (first_screen)
    )
    # The Next line names the cases that broke, as the lists below do.
    assert "**Next:** Look at the 6 cases that broke (r01, r02, r03 and 3 more)." in first_screen
    assert "| suite | head | base | change [95% CI] | verdict |" in first_screen
    assert "| sentiment | 25.0% (2 of 8) | 100.0% (8 of 8) | −75.0 pp [" in first_screen
    assert "p-value" not in first_screen and "p (head worse)" not in first_screen
    assert "base pass rate" in report
    assert "100.0%" in report and "25.0%" in report
    assert "−75.0 [" in report  # the full table: the same minus sign (−) as the rest
    # A local run has no pull request, so no head of one: its lists speak of the change.
    assert "sentiment: 6 broken cases (passed on the base, fail with the change)" in report
    assert "this head" not in report
    assert "base output: `positive`" in report and "head output: `negative`" in report
    # The base is named by its short sha.
    assert f"Prompt unchanged since {base_sha[:7]}, so not run on the base: shipping." in report
    assert "fixed, 6 broken" in res.output
    junit = ET.parse(root / "out" / "junit.xml").getroot()
    suite = next(s for s in junit.iter("testsuite") if s.get("name") == "sentiment")
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["baseline_ref"] == base_sha
    assert (properties["base_pass_rate"], properties["head_pass_rate"]) == ("1.0000", "0.2500")
    assert (properties["delta_pp"], properties["broken"], properties["fixed"]) == (
        "-75.0",
        "6",
        "0",
    )
    assert properties["confirmed_cases"] == "6"
    testcases = {c.get("name"): c for c in suite.iter("testcase")}
    regression = testcases["r01"].find("failure")
    assert regression is not None and regression.get("type") == "regression"
    assert (regression.get("message") or "").startswith("broken: passed on base, fails on head")
    assert testcases["r01"].findtext("system-out") == "head output: negative\nbase output: positive"
    gate = testcases["promptloop gate"].find("failure")
    assert gate is not None and gate.get("message") == verdict.reason

    assert "sentiment: 6 of 8 paired cases changed their output; 2 gave the same" in report
    # report.md gives the gate's reason, which already tells the second look: told once.
    assert report.count("1 more time on each side") == 1
    confirmed = "the 6 changed cases ran 1 more time on each side to confirm: Δ −75.0 pp"
    assert confirmed in " ".join(res.output.split())


def test_improvement_against_base_passes(repo: tuple[Path, str]) -> None:
    root, _ = repo
    # Base is the sarcastic prompt this time; head removes the sarcasm.
    good = (root / "prompts" / "classify.md").read_text()
    commit_head(root, good + "Be sarcastic.\n")
    base_sha = git(root, "rev-parse", "HEAD")
    commit_head(root, good)
    res = run(root, "--baseline", base_sha)
    assert res.exit_code == 0, res.output
    result = read_results(root / "out" / "results.json")
    cmp = result.comparisons["sentiment"]
    assert len(cmp.fixed) == 6 and cmp.broken == []
    # A fixed case shows why head passes it and why base failed it.
    fixed = cmp.fixed[0]
    assert fixed.head_reason.startswith("label: ") and "expected" not in fixed.head_reason
    assert fixed.base_reason.startswith("label: expected")
    assert cmp.delta_pp == pytest.approx(75.0)
    assert result.verdicts["sentiment"].status == "pass"
    # Head looks better, so nothing is re-run: 8 shipping + 8 sentiment on each side.
    assert cmp.confirmation is None and len(script_calls("base-head")) == 24

    # A shard cannot tell how the whole suite moved, so it confirms every change.
    clear_scripts()
    res = run(root, "--baseline", base_sha, "--shard", "1/1")
    assert res.exit_code == 0, res.output
    result = read_results(root / "out" / "results.json")
    assert result.comparisons["sentiment"].confirmation.cases == 6
    # The first look comes from the cache; only the confirmation run is new calls.
    assert len(script_calls("base-head")) == 6 * 2


def test_unchanged_prompts_are_not_rerun(repo: tuple[Path, str]) -> None:
    root, base_sha = repo
    res = run(root, "--baseline", base_sha)
    assert res.exit_code == 0, res.output
    result = read_results(root / "out" / "results.json")
    assert result.baseline == []
    assert sorted(result.unchanged_suites) == ["sentiment", "shipping"]
    assert result.comparisons == {}
    assert len(script_calls("base-head")) == 16  # each head case once, nothing for base


def test_prompt_new_in_head_runs_alone(repo: tuple[Path, str]) -> None:
    root, base_sha = repo
    config = root / "promptloop.yaml"
    config.write_text(config.read_text().replace("prompts/shipping.md", "prompts/new.md"))
    (root / "prompts" / "new.md").write_text(OTHER_PROMPT)
    git(root, "add", ".")
    git(root, "commit", "-qm", "new prompt")
    res = run(root, "--baseline", base_sha)
    assert res.exit_code == 0, res.output
    result = read_results(root / "out" / "results.json")
    assert result.baseline == []
    assert "shipping" not in result.comparisons
    assert [s.name for s in result.suites] == ["sentiment", "shipping"]


def test_repeat_two_averages_within_each_case(repo: tuple[Path, str]) -> None:
    root, base_sha = repo
    config = root / "promptloop.yaml"
    config.write_text(config.read_text() + "gate:\n  confirm_runs: 2\n")
    commit_head(root, (root / "prompts" / "classify.md").read_text() + "Be sarcastic.\n")
    flips: dict[str, int] = {}

    def noisy(call: dict[str, Any]) -> str:
        # On head, r07 fails on one repeat of two: its averaged pass is 0.5, not 0 or 1.
        text = "\n".join(str(m.get("content") or "") for m in call["messages"])
        if "sarcastic" in text and "Exactly as described" in text:
            flips["r07"] = flips.get("r07", 0) + 1
            return "negative" if call["seed"] == 3 else "positive"
        return answer(call)

    register_script("base-head", noisy)
    args = ["run", str(root), "-o", str(root / "out"), "-q", "--repeat", "2", "-s", "sentiment"]
    res = CliRunner().invoke(cli, [*args, "--baseline", base_sha], catch_exceptions=False)
    assert res.exit_code == 1, res.output
    result = read_results(root / "out" / "results.json")
    assert len(result.suites[0].cases) == 16 and len(result.baseline[0].cases) == 16
    cmp = result.comparisons["sentiment"]
    # Head: r08 passes both repeats, r07 one of two, the six others none: (1 + 0.5) / 8.
    assert cmp.head_pass_rate == pytest.approx((1.0 + 0.5) / 8)
    assert cmp.base_pass_rate == 1.0
    # The 7 changed cases ran twice more per side, as repeats 2 and 3: r07 passed both,
    # so over its four head runs it passes 3 of 4.
    assert flips["r07"] == 4
    head_runs = result.suites[0].confirmation_runs
    assert sorted({r.repeat for r in head_runs}) == [2, 3] and len(head_runs) == 14
    confirmation = cmp.confirmation
    assert confirmation.cases == 7
    assert confirmation.delta_pp == pytest.approx(100 * ((0.75 - 1) + 6 * (0 - 1)) / 8)


def test_progress_counts_only_the_runs_that_happen(repo: tuple[Path, str]) -> None:
    root, base_sha = repo
    config = root / "promptloop.yaml"
    config.write_text(config.read_text() + "gate:\n  confirm_runs: 2\n")
    commit_head(root, (root / "prompts" / "classify.md").read_text() + "Be sarcastic.\n")
    register_script("base-head", answer)
    res = CliRunner().invoke(
        cli, ["run", str(root), "-o", str(root / "out"), "--baseline", base_sha]
    )
    assert res.exit_code == 1, res.output
    # 8 sentiment cases on head and base, 8 shipping cases on head only (unchanged), then
    # the 6 changed sentiment cases once more on each side: the answers repeated exactly,
    # so the planned second run was dropped from the total. A case run on both sides
    # counts once.
    lines = res.stderr.splitlines()
    progress = [line for line in lines if "cases done" in line]
    assert progress and progress[-1].startswith("promptloop: 22/22 cases done")
    assert (
        "promptloop: re-running 6 changed cases 2 more times on each side before the gate decides"
        in lines
    )
    assert (
        "promptloop: every answer and verdict came back unchanged (the model is "
        "deterministic here), so the 1 remaining run is skipped" in lines
    )


def test_a_deterministic_suite_is_decided_on_the_first_look(repo: tuple[Path, str]) -> None:
    root, base_sha = repo
    config = root / "promptloop.yaml"
    config.write_text(config.read_text().replace("temperature: 0.7\n", ""))
    git(root, "commit", "-qam", "temperature 0")
    base_sha = git(root, "rev-parse", "HEAD")
    commit_head(root, (root / "prompts" / "classify.md").read_text() + "Be sarcastic.\n")
    res = run(root, "--baseline", base_sha, "-s", "sentiment")
    assert res.exit_code == 1, res.output
    # A temperature-0 model graded by exact checks answers a re-run identically, so
    # nothing is re-run: 8 cases on each side.
    assert len(script_calls("base-head")) == 16
    result = read_results(root / "out" / "results.json")
    assert result.suites[0].confirmation_runs == []
    assert result.comparisons["sentiment"].confirmation is None
    reason = result.verdicts["sentiment"].reason
    assert "decided on the first look: re-running cannot bring new evidence" in reason
    assert "confirm" not in reason


CHAT_BASE = """\
- role: system
  content: You classify the sentiment of reviews. Answer positive or negative.
- role: user
  content: "Review: {{ text }}"
"""


def chat_base(repo: tuple[Path, str]) -> tuple[Path, str]:
    """The sentiment suite on a chat prompt, committed: the repo and that commit."""
    root, _ = repo
    config = root / "promptloop.yaml"
    config.write_text(config.read_text().replace("prompts/classify.md", "prompts/chat.yaml"))
    (root / "prompts" / "chat.yaml").write_text(CHAT_BASE)
    git(root, "add", ".")
    git(root, "commit", "-qm", "chat prompt")
    return root, git(root, "rev-parse", "HEAD")


def test_chat_prompt_baseline_is_parsed_as_chat_messages(repo: tuple[Path, str]) -> None:
    root, base_sha = chat_base(repo)
    (root / "prompts" / "chat.yaml").write_text(
        CHAT_BASE.replace("reviews.", "reviews. Be sarcastic.")
    )
    git(root, "commit", "-qam", "head")
    res = run(root, "--baseline", base_sha, "-s", "sentiment")
    assert res.exit_code == 1, res.output
    calls = script_calls("base-head")
    assert len(calls) == 16 + 6 * 2  # the 6 broken cases confirmed once on both sides
    # Base and head both send a system message and a user message with the review only;
    # the base must not be the raw YAML text sent as one message.
    for call in calls:
        assert [m["role"] for m in call["messages"]] == ["system", "user"]
        assert call["messages"][1]["content"].startswith("Review: ")
    result = read_results(root / "out" / "results.json")
    assert result.comparisons["sentiment"].base_pass_rate == 1.0


def test_a_base_prompt_that_does_not_parse_names_the_ref(repo: tuple[Path, str]) -> None:
    root, _ = repo
    good = (root / "prompts" / "classify.md").read_text()
    commit_head(root, good + "{% if text %} never closed\n")
    base_sha = git(root, "rev-parse", "HEAD")
    commit_head(root, good + "Be brief.\n")
    register_script("base-head", answer)
    res = CliRunner().invoke(
        cli, ["run", str(root), "-o", str(root / "out"), "--baseline", base_sha]
    )
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.output
    assert "prompts/classify.md:4" in lines[0] and f"at {base_sha}" in lines[0]
    assert script_calls("base-head") == []


def test_renamed_variable_runs_head_alone_with_a_notice(repo: tuple[Path, str]) -> None:
    root, base_sha = repo
    prompt = root / "prompts" / "classify.md"
    prompt.write_text(prompt.read_text().replace("{{ text }}", "{{ review }}"))
    dataset = root / "evals" / "reviews.jsonl"
    dataset.write_text(dataset.read_text().replace('"text"', '"review"'))
    (root / "prompts" / "shipping.md").write_text(
        OTHER_PROMPT.replace("{{ text }}", "{{ review }}")
    )
    git(root, "commit", "-qam", "rename text to review")
    res = run(root, "--baseline", base_sha)
    assert res.exit_code == 0, res.output
    result = read_results(root / "out" / "results.json")
    assert result.baseline == [] and result.comparisons == {}
    assert [len(s.cases) for s in result.suites] == [8, 8]
    notices = [n for n in result.notices if "not compared with" in n]
    assert len(notices) == 2 and all("'text'" in n for n in notices)
    assert "not compared with" in " ".join(res.output.split())
    assert len(script_calls("base-head")) == 16


def test_unchanged_prompt_with_a_byte_order_mark_counts_as_unchanged(tmp_path: Path) -> None:
    root = tmp_path / "bom"
    shutil.copytree(PROJECTS / "sentiment", root)
    prompt = root / "prompts" / "classify.md"
    prompt.write_bytes(b"\xef\xbb\xbf" + prompt.read_bytes())
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-qm", "base")
    base_sha = git(root, "rev-parse", "HEAD")
    register_script("sentiment", answer)
    res = CliRunner().invoke(
        cli, ["run", str(root), "-o", str(root / "out"), "-q", "--baseline", base_sha]
    )
    assert res.exit_code == 0, res.output
    result = read_results(root / "out" / "results.json")
    assert result.unchanged_suites == ["sentiment"] and result.baseline == []


def test_baseline_from_inside_the_repo_with_relative_paths(
    repo: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, base_sha = repo
    commit_head(root, (root / "prompts" / "classify.md").read_text() + "Be sarcastic.\n")
    monkeypatch.chdir(root / "prompts")  # a subfolder: the config is found in a parent
    register_script("base-head", answer)
    res = CliRunner().invoke(cli, ["run", "-o", "../out", "-q", "--baseline", "HEAD~1"])
    assert res.exit_code == 1, res.output
    result = read_results(root / "out" / "results.json")
    assert [s.name for s in result.baseline] == ["sentiment"]
    assert result.unchanged_suites == ["shipping"]
    assert len(result.comparisons["sentiment"].broken) == 6
    assert result.baseline_ref == "HEAD~1"
    assert git(root, "rev-parse", "HEAD~1") == base_sha


@pytest.mark.parametrize("confirm_runs", [2, 0])
def test_a_critical_case_broken_by_one_unlucky_draw_is_confirmed_before_failing(
    repo: tuple[Path, str], confirm_runs: int
) -> None:
    root, _ = repo
    dataset = root / "evals" / "reviews.jsonl"
    dataset.write_text(
        dataset.read_text().replace('"id": "r01",', '"id": "r01", "tags": ["critical"],')
    )
    config = root / "promptloop.yaml"
    config.write_text(config.read_text() + f"gate:\n  confirm_runs: {confirm_runs}\n")
    git(root, "commit", "-qam", "r01 is critical")
    base_sha = git(root, "rev-parse", "HEAD")
    commit_head(root, (root / "prompts" / "classify.md").read_text() + "Be brief.\n")

    def unlucky(call: dict[str, Any]) -> str:
        # The edited prompt gets r01 wrong on its first draw only, as a sampling model can.
        text = "\n".join(str(m.get("content") or "") for m in call["messages"])
        if "Be brief." in text and "I loved every minute" in text and call["seed"] == 3:
            return "negative"
        return answer(call)

    register_script("base-head", unlucky)
    args = ["run", str(root), "-o", str(root / "out"), "-q", "-s", "sentiment"]
    res = CliRunner().invoke(cli, [*args, "--baseline", base_sha], catch_exceptions=False)
    result = read_results(root / "out" / "results.json")
    assert [item.case_id for item in result.comparisons["sentiment"].broken] == ["r01"]
    if confirm_runs == 0:
        assert res.exit_code == 1, res.output
        assert result.verdict is not None and result.verdict.failed_checks == ["critical"]
        assert len(script_calls("base-head")) == 16
        return
    # Two fresh draws on each side: r01 passes both on head, so it is not held against it.
    assert res.exit_code == 0, res.output
    assert len(script_calls("base-head")) == 16 + 2 * 2
    assert [(r.id, r.repeat, r.status) for r in result.suites[0].confirmation_runs] == [
        ("r01", 1, "pass"),
        ("r01", 2, "pass"),
    ]
    # Over all three draws r01 passes 2 of 3 on head: a third of a case over 8 cases.
    verdict = result.verdicts["sentiment"]
    assert verdict.status == "pass" and verdict.failed_checks == []
    assert (
        "pass rate fell 12.5 pp (95% CI" in verdict.reason
        and "re-running the 1 changed case 2 more times on each side leaves a 4.2 pp drop"
        in verdict.reason
    )


def test_a_judged_suite_shares_unchanged_verdicts_and_resamples_the_judge(
    repo: tuple[Path, str],
) -> None:
    root, _ = repo
    config = root / "promptloop.yaml"
    config.write_text(
        config.read_text()
        .replace("temperature: 0.7\n", "judge_model: scripted/judge\n")
        .replace('      - equals: "{{ label }}"\n', "      - judge: The label is right.\n")
    )
    git(root, "commit", "-qam", "a judged suite at temperature 0")
    base_sha = git(root, "rev-parse", "HEAD")
    commit_head(root, (root / "prompts" / "classify.md").read_text() + "Be sarcastic.\n")

    def judge(call: dict[str, Any]) -> str:
        user = str(call["messages"][-1]["content"])
        output = user.split("<output>\n")[1].split("\n</output>")[0]
        passed = f'"label": "{output}"' in user
        return json.dumps(
            {"critique": "checked the label", "passed": passed, "score": 1.0 * passed}
        )

    register_script("judge", judge)
    res = run(root, "--baseline", base_sha, "-s", "sentiment")
    assert res.exit_code == 1, res.output
    calls = script_calls("judge")
    # The judge never sees the prompt under test.
    assert not any("sarcastic" in str(c["messages"]) for c in calls)
    first = [c for c in calls if c["temperature"] == 0]
    second = [c for c in calls if c["temperature"] == 0.7]
    # First look: 8 base outputs, and only the 6 head outputs that changed; the 2 unchanged
    # ones kept base's verdicts. Second look: the 6 changed cases once more on each side,
    # the judge's two agreeing samples settling each majority of 3.
    assert (len(first), len(second)) == (14, 6 * 2 * 2)
    # The model ran at temperature 0: its second-look answers came from the cache.
    assert len(script_calls("base-head")) == 16
    result = read_results(root / "out" / "results.json")
    cmp = result.comparisons["sentiment"]
    assert cmp.outputs_unchanged == 2 and len(cmp.broken) == 6
    assert "re-running the 6 changed cases 1 more time on each side confirms" in (
        result.verdicts["sentiment"].reason
    )


def test_turns_calling_a_tool_the_base_lacks_run_head_alone_with_a_notice(
    repo: tuple[Path, str],
) -> None:
    root, base_sha = chat_base(repo)
    tools = (
        "tools:\n  - type: function\n    function: {name: fetch_review, parameters: {}}\n"
        "messages:\n" + "".join(f"  {line}\n" for line in CHAT_BASE.splitlines())
    )
    (root / "prompts" / "chat.yaml").write_text(tools)
    dataset = root / "evals" / "reviews.jsonl"
    rows = [json.loads(line) for line in dataset.read_text().splitlines()]
    rows[0]["messages"] = [
        {"role": "user", "content": "Fetch it first."},
        {
            "role": "assistant",
            "tool_calls": [{"id": "c1", "function": {"name": "fetch_review", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "fetched"},
    ]
    dataset.write_text("".join(json.dumps(row) + "\n" for row in rows))
    git(root, "commit", "-qam", "a tool, and a case that used it")
    res = run(root, "--baseline", base_sha, "-s", "sentiment")
    assert res.exit_code == 0, res.output
    result = read_results(root / "out" / "results.json")
    assert result.baseline == []
    [notice] = [n for n in result.notices if "not compared with" in n]
    assert "case 'r01' calls `fetch_review`, which " in notice
    assert "prompts/chat.yaml does not declare (it declares no tools); the head ran alone" in notice
    first = script_calls("base-head")[0]["messages"]
    assert [m["role"] for m in first] == ["system", "user", "assistant", "tool", "user"]


def test_a_signal_during_the_second_look_leaves_the_run_incomplete(
    repo: tuple[Path, str],
) -> None:
    # Every case of the first look finished, but the gate asked to look twice: deciding
    # on what the stop left of the second look would be deciding on less than it asked for.
    import os
    import signal

    root, base_sha = repo
    commit_head(root, (root / "prompts" / "classify.md").read_text() + "Be sarcastic.\n")
    first_look = 8 + 16  # shipping on head; sentiment on head and base

    def interrupted_on_second_look(call: dict[str, Any]) -> str:
        if len(script_calls("base-head")) == first_look + 1:
            os.kill(os.getpid(), signal.SIGINT)
        return answer(call)

    register_script("base-head", interrupted_on_second_look)
    res = CliRunner().invoke(
        cli, ["run", str(root), "-o", str(root / "out"), "-q", "--baseline", base_sha]
    )
    assert res.exit_code == 130, res.output
    result = read_results(root / "out" / "results.json")
    assert result.not_run == 0  # the first look is whole
    assert result.incomplete is not None and "interrupted by SIGINT" in result.incomplete
    assert result.verdict is not None and result.verdict.status != "pass"
