from __future__ import annotations

import copy
import io
import json
from pathlib import Path
from typing import Any

import pytest

from promptloop.errors import UserError
from promptloop.github.event import (
    DispatchContext,
    PullContext,
    PushContext,
    load_event,
    parse_event,
)
from promptloop.github.runtime import ActionsRuntime
from promptloop.github.workflow import (
    Annotation,
    annotation_commands,
    append_step_summary,
    emit,
    format_output,
    mask_commands,
    rank_annotations,
    write_outputs,
)

EVENTS = Path(__file__).parents[1] / "fixtures" / "github" / "events"


def opened() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS / "pull_request.opened.json").read_text())
    return data


ENV = {
    "GITHUB_EVENT_PATH": "/tmp/event.json",
    "GITHUB_EVENT_NAME": "pull_request",
    "GITHUB_REPOSITORY": "Codertocat/Hello-World",
    "GITHUB_TOKEN": "ghs_secret_value_123",
    "GITHUB_OUTPUT": "/tmp/out",
    "GITHUB_STEP_SUMMARY": "/tmp/summary",
    "GITHUB_WORKSPACE": "/w",
    "GITHUB_SHA": "mergecommitsha",
    "GITHUB_RUN_ID": "42",
    "GITHUB_SERVER_URL": "https://github.example",
}


# --- runtime ---------------------------------------------------------------


def test_runtime_reads_environment() -> None:
    rt = ActionsRuntime.from_environ(ENV)
    assert rt.event_path == Path("/tmp/event.json")
    assert rt.event_name == "pull_request"
    assert rt.api_url == "https://api.github.com"
    assert rt.token == "ghs_secret_value_123"
    assert rt.output_path == Path("/tmp/out")
    assert rt.step_summary_path == Path("/tmp/summary")
    assert rt.run_url == "https://github.example/Codertocat/Hello-World/actions/runs/42"
    assert rt.secrets() == ("ghs_secret_value_123",)


def test_token_is_not_in_repr() -> None:
    rt = ActionsRuntime.from_environ(ENV)
    assert "ghs_secret_value_123" not in repr(rt)
    assert "ghs_secret_value_123" not in str(rt)


def test_enterprise_api_url_and_input_token_win() -> None:
    env = dict(ENV, GITHUB_API_URL="https://ghe.example/api/v3/", **{"INPUT_GITHUB-TOKEN": "pat"})
    rt = ActionsRuntime.from_environ(env)
    assert rt.api_url == "https://ghe.example/api/v3"
    assert rt.token == "pat"


@pytest.mark.parametrize("name", ["GITHUB_EVENT_PATH", "GITHUB_EVENT_NAME", "GITHUB_REPOSITORY"])
def test_missing_required_variable_is_named(name: str) -> None:
    env = {k: v for k, v in ENV.items() if k != name}
    with pytest.raises(UserError) as info:
        ActionsRuntime.from_environ(env)
    assert name in str(info.value)
    assert info.value.exit_code == 2
    assert "\n" not in str(info.value)


def test_bad_repository_and_missing_token() -> None:
    with pytest.raises(UserError, match="owner/name"):
        ActionsRuntime.from_environ(dict(ENV, GITHUB_REPOSITORY="just-a-name"))
    rt = ActionsRuntime.from_environ({k: v for k, v in ENV.items() if k != "GITHUB_TOKEN"})
    assert rt.token is None and rt.secrets() == ()
    with pytest.raises(UserError, match="GITHUB_TOKEN"):
        rt.require_token()


# --- event -----------------------------------------------------------------


def test_pull_request_payload() -> None:
    ctx = parse_event("pull_request", opened(), sha="mergecommitsha")
    assert isinstance(ctx, PullContext)
    assert ctx.number == 2
    assert ctx.head_sha == "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
    assert ctx.head_sha != "mergecommitsha"
    assert ctx.base_sha == "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"
    assert (ctx.base_ref, ctx.head_ref) == ("master", "changes")
    assert ctx.is_fork is False
    assert ctx.base_repo_full_name == "Codertocat/Hello-World"


def test_fork_and_deleted_fork() -> None:
    payload = opened()
    payload["pull_request"]["head"]["repo"]["full_name"] = "someone/Hello-World"
    ctx = parse_event("pull_request_target", payload)
    assert isinstance(ctx, PullContext) and ctx.is_fork
    assert ctx.head_repo_full_name == "someone/Hello-World"
    payload["pull_request"]["head"]["repo"] = None
    gone = parse_event("pull_request", payload)
    assert isinstance(gone, PullContext)
    assert gone.is_fork and gone.head_repo_full_name is None


def test_missing_pull_field_names_the_key(tmp_path: Path) -> None:
    payload = copy.deepcopy(opened())
    del payload["pull_request"]["head"]["sha"]
    path = tmp_path / "event.json"
    path.write_text(json.dumps(payload))
    with pytest.raises(UserError) as info:
        load_event(path, "pull_request")
    assert str(info.value) == f"{path}: pull_request.head.sha: missing from the event payload"


def test_push_payload_new_branch_has_no_before() -> None:
    payload = {
        "ref": "refs/heads/main",
        "before": "0" * 40,
        "after": "abc",
        "repository": {"full_name": "o/r"},
    }
    ctx = parse_event("push", payload)
    assert ctx == PushContext("push", "refs/heads/main", None, "abc", "o/r")
    ctx2 = parse_event("push", dict(payload, before="def"))
    assert isinstance(ctx2, PushContext) and ctx2.before == "def"


def test_workflow_dispatch_uses_github_sha() -> None:
    payload = {"ref": "refs/heads/main", "inputs": {"mode": "review", "n": 3, "x": None}}
    ctx = parse_event("workflow_dispatch", payload, sha="s1", repository="o/r")
    assert isinstance(ctx, DispatchContext)
    assert ctx.sha == "s1" and ctx.repo_full_name == "o/r"
    assert dict(ctx.inputs) == {"mode": "review", "n": "3", "x": ""}


def test_unsupported_event_and_bad_json(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="'issues' is not supported"):
        parse_event("issues", {})
    bad = tmp_path / "e.json"
    bad.write_text('{\n  "ref": \n}')
    with pytest.raises(UserError) as info:
        load_event(bad, "push")
    assert f"{bad}:3" in str(info.value)


# --- workflow --------------------------------------------------------------


def test_single_line_output() -> None:
    assert format_output("verdict", "pass") == "verdict=pass\n"


def test_multiline_output_uses_absent_delimiter() -> None:
    candidates = iter(["EOF", "EOF2"])
    out = format_output("report", "line 1\nEOF\nline 3", delimiter=lambda: next(candidates))
    assert out == "report<<EOF2\nline 1\nEOF\nline 3\nEOF2\n"


def test_random_delimiter_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "out"
    value = "## Summary\nall good\n"
    write_outputs(path, {"a": "1", "summary": value})
    text = path.read_text()
    assert text.startswith("a=1\nsummary<<")
    delimiter = text.split("\n")[1].split("<<", 1)[1]
    assert delimiter not in value
    body = text.split(f"summary<<{delimiter}\n", 1)[1]
    assert body == f"{value}\n{delimiter}\n"


def test_invalid_output_name() -> None:
    with pytest.raises(ValueError, match="invalid output name"):
        format_output("a=b", "x")


def test_step_summary_appends_and_caps(tmp_path: Path) -> None:
    path = tmp_path / "summary.md"
    assert append_step_summary(path, "# first")
    assert append_step_summary(path, "second\n")
    assert path.read_text() == "# first\nsecond\n"
    assert not append_step_summary(path, "é" * 600, limit=500)
    data = path.read_bytes()
    assert len(data) <= 500
    assert "truncated" in data.decode("utf-8")  # still valid UTF-8 after the cut


def test_mask_commands() -> None:
    lines = mask_commands(["tok%en", None, "", "multi\nline secret"])
    assert lines == ["::add-mask::tok%25en", "::add-mask::multi", "::add-mask::line secret"]


def test_annotations_most_important_first_and_capped() -> None:
    notes = [Annotation("warning", f"w{i}", "p.md", i, priority=i) for i in range(15)]
    errors = [Annotation("error", f"e{i}", "p.md", i, priority=-i) for i in range(12)]
    commands, omitted = annotation_commands(notes + errors)
    assert omitted == 5 + 2
    assert len(commands) == 20
    assert commands[0].startswith("::error") and commands[0].endswith("::e0")
    assert commands[10].endswith("::w14")
    assert all("::w0" not in c for c in commands)
    assert [a.message for a in rank_annotations(errors)][:3] == ["e0", "e1", "e2"]


def test_annotation_to_check_run_and_emit() -> None:
    a = Annotation("error", "bad", "prompts/x.md", 4, 6, "case 3")
    assert a.to_check_run() == {
        "path": "prompts/x.md",
        "start_line": 4,
        "end_line": 6,
        "annotation_level": "failure",
        "message": "bad",
        "title": "case 3",
    }
    with pytest.raises(ValueError):
        Annotation("notice", "m").to_check_run()
    stream = io.StringIO()
    emit([a.command()], stream)
    assert stream.getvalue() == "::error file=prompts/x.md,line=4,endLine=6,title=case 3::bad\n"
