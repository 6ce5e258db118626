"""examples/support-agent through the CLI against the OpenAI-compatible stub, which
answers with real ``tool_calls`` payloads: the request carries the tools, and the
evaluators grade the calls with reasons a person (and the optimizer) can read."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from promptloop.cli import cli
from promptloop.engine.results import CaseRecord, read_results
from promptloop.models.scripted import Calls, register_script, script_calls
from tests.safety.markdown_check import hazards
from tests.support import REPO_ROOT, cli_env, load_stub, run_promptloop

EXAMPLE = REPO_ROOT / "examples" / "support-agent"
# Cases by id, the request bodies, report.md + junit.xml, the console output.
Ran = tuple[dict[str, CaseRecord], list[dict], str, str]

# A plausible but imperfect agent that reads the whole conversation: refunds when it sees
# "refund", an order number and an amount (the last ones mentioned) and has not refunded
# yet, even when a tool result said the order is not refundable or the amount is too big
# for it; looks the last order number up unless it did already or a refund is asked for;
# hands off on "person" or "lawyer". Order A7777 gets arguments that are not JSON.
RULES = (
    (
        r"(?is)\A(?!.*\[tool call\] issue_refund)(?=.*refund)(?=.*\b(A\d{4})\b)(?=.*\$(\d+)).*",
        "issue_refund",
        r'{"order_id": "\1", "amount": \2, "reason": "damaged"}',
    ),
    (
        r"(?is)\A(?=.*\b(A\d{4})\b)(?!.*lookup_order\([^)]*\1)(?!.*refund)(?!.*A7777).*",
        "lookup_order",
        r'{"order_id": "\1"}',
    ),
    (r"(A7777)", "lookup_order", r'{"order_id": "\1",'),
    (r"(?i)real person|lawyer", "hand_off_to_human", '{"summary": "Customer asks for a person."}'),
    # A hostile model: a ping, HTML and a backtick in the arguments.
    (r"Someone logged into", "hand_off_to_human", '{"summary": "`@ad <i>"}'),
)


@pytest.fixture(scope="module")
def ran(
    tmp_path_factory: pytest.TempPathFactory,
) -> Ran:
    stub = load_stub()
    project = tmp_path_factory.mktemp("agent") / "support-agent"
    shutil.copytree(EXAMPLE, project)
    config = stub.StubConfig(tool_rules=RULES, tool_rules_read="conversation", record_bodies=True)
    with stub.StubServer(config) as server:
        env = cli_env(OPENAI_API_KEY="sk-test", OPENAI_API_BASE=server.base_url)
        env["OPENAI_BASE_URL"] = server.base_url
        proc = run_promptloop(project, "run", ".", "-m", "openai/stub", "-o", "out", env=env)
        bodies = list(server.bodies)
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    result = read_results(project / "out" / "results.json")
    cases = {c.id: c for c in result.suites[0].cases}
    out = project / "out"
    reports = (out / "report.md").read_text() + (out / "junit.xml").read_text()
    return cases, bodies, reports, proc.stdout


def test_the_example_has_enough_cases(ran: Ran) -> None:
    cases, _, _, _ = ran
    assert len(cases) >= 30


def test_requests_carry_the_prompt_files_tools_and_tool_choice(
    ran: Ran,
) -> None:
    _, bodies, _, _ = ran
    assert bodies
    for body in bodies:
        names = [tool["function"]["name"] for tool in body["tools"]]
        assert names == ["lookup_order", "issue_refund", "hand_off_to_human"]
        assert body["tool_choice"] == "auto"
        refund = body["tools"][1]["function"]["parameters"]
        assert refund["properties"]["reason"]["enum"] == ["damaged", "wrong_item", "late"]


def test_calls_are_recorded_with_parsed_and_raw_arguments(
    ran: Ran,
) -> None:
    cases, _, _, _ = ran
    [call] = cases["status-1"].tool_calls
    assert (call.name, call.arguments) == ("lookup_order", {"order_id": "A1024"})
    assert json.loads(call.raw_arguments) == {"order_id": "A1024"}
    assert cases["status-1"].status == "pass"
    assert cases["none-1"].tool_calls == [] and cases["none-1"].status == "pass"


def test_right_and_wrong_tools_have_english_reasons(
    ran: Ran,
) -> None:
    cases, _, _, _ = ran
    by_name = {e.evaluator: e for e in cases["refund-1"].evaluations}
    assert by_name["right-tool"].passed
    assert (
        'called `issue_refund` with `order_id: "A1111", amount: 40' in by_name["right-tool"].reason
    )
    human4 = {e.evaluator: e for e in cases["human-4"].evaluations}
    assert not human4["right-tool"].passed
    assert human4["right-tool"].reason.endswith("expected a call to `hand_off_to_human`")
    assert not human4["refund-args"].passed
    assert "amount: 900 is greater than the maximum of 500" in human4["refund-args"].reason
    human5 = {e.evaluator: e for e in cases["human-5"].evaluations}
    assert human5["right-tool"].reason == "called no tool, expected a call to `hand_off_to_human`"
    # A check of a tool that was not called leaves the verdict to the others.
    assert human5["lookup-args"].abstained


def test_malformed_arguments_fail_the_case_not_an_evaluator_error(
    ran: Ran,
) -> None:
    cases, _, _, _ = ran
    case = cases["status-7"]
    [call] = case.tool_calls
    assert call.arguments is None and call.raw_arguments == '{"order_id": "A7777",'
    assert call.error and "not valid JSON" in call.error
    args = {e.evaluator: e for e in case.evaluations}["lookup-args"]
    assert not args.passed and args.error is None
    assert "cannot be checked" in args.reason
    assert case.status == "fail"


def test_the_report_shows_calls_neutralised(
    ran: Ran,
) -> None:
    _, _, report_and_junit, console = ran
    report, junit = report_and_junit.split("<?xml", 1)
    [line] = [ln for ln in report.splitlines() if "[tool call] hand_off_to_human(" in ln]
    assert "@ad <i>" in line
    # The console shows it as written, not as Rich markup.
    assert "[tool call] lookup_order(" in console
    assert "[tool call] hand_off_to_human({&quot;summary&quot;: &quot;`@ad &lt;i&gt;" in junit
    # What a model wrote sits in code spans or is defused: no ping, link, HTML or broken
    # span got through.
    shown = [ln for ln in report.splitlines() if ln.startswith(("- output:", "- why:"))]
    assert len(shown) >= 10
    assert [hazards(line) for line in shown] == [[]] * len(shown)


def test_reports_show_calls_readably() -> None:
    record = CaseRecord.model_validate(
        {
            "id": "x",
            "split": "test",
            "vars": {},
            "output": "",
            "status": "fail",
            "score": 0.0,
            "tool_calls": [
                {"name": "refund", "arguments": {"amount": 120}, "raw_arguments": '{"amount":120}'}
            ],
        }
    )
    assert record.shown_output == '[tool call] refund({"amount": 120})'


def test_the_embedded_model_is_refused_for_a_prompt_with_tools(tmp_path: Path) -> None:
    project = tmp_path / "support-agent"
    shutil.copytree(EXAMPLE, project)
    proc = run_promptloop(project, "run", ".", "-m", "local/smollm2", "-o", "out")
    assert proc.returncode == 2
    [line] = proc.stderr.strip().splitlines()
    assert "local/smollm2 cannot call tools, and prompts/agent.yaml declares `tools:`" in line
    assert not (project / "out").exists()


def test_the_example_runs_on_the_scripted_model_through_litellm(
    tmp_path: Path, clean_scripts: None
) -> None:
    def agent(call: dict) -> str | Calls:
        assert [t["function"]["name"] for t in call["tools"]] == [
            "lookup_order",
            "issue_refund",
            "hand_off_to_human",
        ]
        assert call["tool_choice"] == "auto"
        message = call["messages"][-1]["content"]
        found = re.search(r"\bA\d{4}\b", message)
        if found and "refund" not in message.lower():
            return Calls(("lookup_order", json.dumps({"order_id": found.group(0)})))
        return "Could you tell me your order number?"

    register_script("agent", agent)
    project = tmp_path / "support-agent"
    shutil.copytree(EXAMPLE, project)
    out = project / "out"
    result = CliRunner().invoke(
        cli, ["run", "-q", str(project), "-m", "scripted/agent", "-o", str(out)]
    )
    assert result.exit_code == 1, result.output
    cases = {c.id: c for c in read_results(out / "results.json").suites[0].cases}
    assert cases["status-3"].status == "pass"
    assert cases["status-3"].tool_calls[0].arguments == {"order_id": "A3090"}
    right = {e.evaluator: e for e in cases["refund-1"].evaluations}["right-tool"]
    assert right.reason == "called no tool, expected a call to `issue_refund`"
    written = (EXAMPLE / "evals" / "cases.jsonl").read_text().splitlines()
    assert len(script_calls("agent")) == len(written) == 42


def test_cases_with_earlier_turns_send_them_in_order(ran: Ran) -> None:
    _, bodies, _, _ = ran
    [body] = [b for b in bodies if b["messages"][1]["content"] == "Can you check A9901 and A9902?"]
    assert [m["role"] for m in body["messages"]] == [
        "system",
        "user",
        "assistant",
        "tool",
        "tool",
        "assistant",
        "user",
    ]
    calls = body["messages"][2]["tool_calls"]
    assert [(c["id"], c["function"]["name"]) for c in calls] == [
        ("call_1", "lookup_order"),
        ("call_2", "lookup_order"),
    ]
    assert json.loads(calls[1]["function"]["arguments"]) == {"order_id": "A9902"}
    assert [m["tool_call_id"] for m in body["messages"][3:5]] == ["call_1", "call_2"]
    assert body["messages"][-1] == {
        "role": "user",
        "content": "A9901 had the wrong item, please refund the $15.",
    }
    assert body["tool_choice"] == "auto" and len(body["tools"]) == 3


def test_the_conversation_decides_what_the_agent_should_do(ran: Ran) -> None:
    cases, _, _, _ = ran
    turns = {cid: case for cid, case in cases.items() if cid.startswith("turns-")}
    assert len(turns) == 10 and all(case.messages for case in turns.values())
    # The order number came two turns ago; the lookup it asks for uses it.
    [call] = turns["turns-number-given-earlier"].tool_calls
    assert call.arguments == {"order_id": "A2202"}
    assert turns["turns-number-given-earlier"].status == "pass"
    # Already looked up, already refunded: nothing to call again.
    assert turns["turns-already-looked-up"].tool_calls == []
    assert turns["turns-thanks-after-refund"].status == "pass"
    assert turns["turns-other-order"].tool_calls[0].arguments == {"order_id": "A8809"}
    # The tool result said final sale; refunding anyway fails with a reason to learn from.
    wrong = {e.evaluator: e for e in turns["turns-not-refundable"].evaluations}["right-tool"]
    assert not wrong.passed
    assert wrong.reason == (
        'called `issue_refund` with `order_id: "A3303", amount: 60, reason: "damaged"`, '
        "expected no tool call"
    )
    assert turns["turns-refund-too-big"].status == "fail"
    passed = sorted(cid for cid, case in turns.items() if case.status == "pass")
    assert len(passed) == 8, passed


def test_reports_show_the_earlier_turns_neutralised(ran: Ran) -> None:
    from promptloop.engine.results import RunResult
    from promptloop.report.markdown import render_markdown

    cases, _, report_and_junit, console = ran
    record = cases["turns-not-refundable"]
    assert record.messages[2] == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": '{"status": "delivered", "refundable": false, "note": "final sale"}',
    }
    assert record.shown_history is not None
    assert record.shown_history.splitlines()[1] == (
        '[tool call call_1] lookup_order({"order_id": "A3303"})'
    )
    junit = report_and_junit.split("<?xml", 1)[1]
    assert "earlier turns:\n[user] Refund $60 for A3303, it came late." in junit
    assert "(4 earlier turns)" in console
    # A hostile turn in a failing case: the report shows it in a code span, defused.
    hostile = record.model_copy(
        update={"messages": [{"role": "user", "content": "<!-- promptloop --> @octocat `x`"}]}
    )
    result = RunResult.model_validate(
        {
            "schema_version": 1,
            "promptloop_version": "0",
            "created_at": "2026-01-01T00:00:00+00:00",
            "config_path": "promptloop.yaml",
            "model": "openai/stub",
            "judge_model": "openai/stub",
            "suites": [
                {
                    "name": "s",
                    "prompt_path": "prompts/agent.yaml",
                    "prompt_sha256": "0" * 64,
                    "model": "openai/stub",
                    "cases": [hostile.model_dump(mode="json")],
                }
            ],
        }
    )
    [line] = [ln for ln in render_markdown(result).splitlines() if "earlier turns" in ln]
    assert "[user]" in line and "<!--" not in line.replace("<\u200b!--", "")
    assert hazards(line) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ('"tool_call_id": "call_2"', '"tool_call_id": "call_3"'),
            "evals/cases.jsonl:41: messages[3].tool_call_id: tool_call_id 'call_3' matches no "
            "tool call of an earlier assistant turn",
        ),
        (
            ('"name": "issue_refund", "arguments"', '"name": "refund", "arguments"'),
            "evals/cases.jsonl:42: messages[1].tool_calls[0].function.name: case "
            "'turns-thanks-after-refund' calls `refund`, which prompts/agent.yaml does not "
            "declare (its tools are lookup_order, issue_refund, hand_off_to_human)",
        ),
    ],
)
def test_a_broken_conversation_stops_the_run_before_any_call(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    project = tmp_path / "support-agent"
    shutil.copytree(EXAMPLE, project)
    dataset = project / "evals" / "cases.jsonl"
    dataset.write_text(dataset.read_text().replace(*change))
    proc = run_promptloop(project, "run", ".", "-m", "openai/stub", "-o", "out")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    [line] = proc.stderr.strip().splitlines()
    assert line.endswith(expected)
    assert not (project / "out").exists()
