"""`promptloop ci` masks every kind of credential by the same rule as `run`: a model that
echoes each one (upper-cased, over two lines, cut in half) leaves none of it in any file,
log, job summary, step output, or request sent to GitHub."""

from __future__ import annotations

import re
from typing import Any

import pytest

from promptloop.models.scripted import register_script
from tests.commands.test_ci_github import CONFIG, FIXED_IN_HUNK, HEAD_PROMPT, PROMPT, Scenario
from tests.safety import leaks


def echoing_model(call: dict[str, Any]) -> str:
    text = "\n".join(str(m.get("content") or "") for m in call["messages"])
    if "<prompt>" in text:
        rationale = f"<rationale>Calmer. {leaks.echo_text()}</rationale>"
        return f"{rationale}\n<prompt>\n{FIXED_IN_HUNK}</prompt>"
    name = re.search(r"greeting for (\w+)", text)
    who = name.group(1) if name else "you"
    mark = "!" if "Use exclamation" in text else "."
    return f"Hello {who}{mark}\n{leaks.echo_text()}"


def test_every_credential_kind_echoed_every_way_reaches_nothing_ci_writes(
    scenario: Scenario, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in leaks.CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    register_script("ci", echoing_model)
    scenario.base["promptloop.yaml"] = CONFIG.replace(
        "cache: {enabled: false}", "cache: {enabled: true}"
    )
    scenario.open_pull({PROMPT: HEAD_PROMPT})
    res = scenario.run(capsys, env=dict(leaks.CREDENTIALS))
    assert res.code == 1, res.stdout + res.stderr
    # The echoes reached every place the test reads, masked.
    reviews = scenario.gh.review_comments("octo/prompts", 7)
    assert reviews and all("***" in c["body"] for c in reviews)
    assert "***" in res.summary
    written = leaks.files_under(scenario.tmp)
    names = [name for name, _ in written]
    for wanted in ("results-1/results.json", "results-1/junit.xml", "results-1/report.md"):
        assert wanted in names
    assert any("/.promptloop/cache/" in f"/{name}" for name in names), names
    assert "summary-1.md" in names and "output-1.txt" in names
    sent = [(f"{r.method} {r.path}", r.body) for r in scenario.gh.requests_log if r.method != "GET"]
    assert len([s for s in sent if s[1]]) >= 3
    # ::add-mask:: names a secret to the runner, which then hides it; the runner never shows
    # the line itself.
    masks = [line for line in res.stdout.splitlines() if line.startswith("::add-mask::")]
    assert {m.removeprefix("::add-mask::") for m in masks} >= set(leaks.SECRETS)
    stdout = "\n".join(line for line in res.stdout.splitlines() if line not in masks)
    read = leaks.assert_nothing_leaks(
        [*written, ("stdout", stdout.encode()), ("stderr", res.stderr.encode()), *sent]
    )
    assert read == len(written) + 2 + len(sent)
