"""No known secret in any file promptloop writes: a model that echoes the provider key, or a
dataset that contains one, leaves only "***" in the cache, the results and the reports."""

from __future__ import annotations

import json
from pathlib import Path

from promptloop.engine.results import read_results
from promptloop.safety import known_secrets
from tests.safety import leaks
from tests.support import cli_env, load_stub, run_promptloop

KEY = "sk-live-0123456789abcdef"
TOKEN = "ghp_secretgithubtoken42"


def test_echoed_key_is_masked_in_cache_results_reports_and_logs(tmp_path: Path) -> None:
    stub = load_stub()
    with stub.StubServer(stub.StubConfig(answer=f"sure, the key is {KEY} and {TOKEN}")) as server:
        project = tmp_path / "p"
        (project / "prompts").mkdir(parents=True)
        (project / "prompts" / "p.md").write_text("Tell me about {{ topic }}.\n")
        (project / "promptloop.yaml").write_text(
            f"model: openai/stub\napi_base: {server.base_url}\nretries: 0\n"
            "suites:\n  - name: leak\n    prompt: prompts/p.md\n    dataset:\n"
            f"      - {{id: a, topic: 'the key {KEY}'}}\n      - {{id: b, topic: keys}}\n"
            "    evaluators:\n      - contains: nothing-like-this\n"
        )
        env = cli_env(OPENAI_API_KEY=KEY, GITHUB_TOKEN=TOKEN)
        proc = run_promptloop(project, "run", ".", "-o", "out", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    cases = read_results(project / "out" / "results.json").suites[0].cases
    assert [c.output for c in cases] == ["sure, the key is *** and ***"] * 2
    assert cases[0].vars["topic"] == "the key ***"
    ours = {project / "promptloop.yaml", project / "prompts" / "p.md"}
    written = [p for p in project.rglob("*") if p.is_file() and p not in ours]
    assert any(".promptloop" in p.parts for p in written), "the cache was not written"
    for path in written:
        data = path.read_bytes()
        assert KEY.encode() not in data and TOKEN.encode() not in data, path
    assert KEY not in proc.stdout + proc.stderr and TOKEN not in proc.stdout + proc.stderr
    assert "***" in proc.stdout


def test_known_secrets_takes_credentials_and_url_passwords() -> None:
    env = {
        "OPENAI_API_KEY": KEY,
        "INPUT_GITHUB-TOKEN": TOKEN,
        "AWS_SECRET_ACCESS_KEY": "aws-secret-value",
        "HOME": "/home/someone",
        "SHORT_TOKEN": "abc",
    }
    found = known_secrets(env, urls=["redis://:hunter2hunter@cache:6379/0", "redis://cache"])
    assert found == sorted([KEY, TOKEN, "aws-secret-value", "hunter2hunter"])
    assert json.dumps(found)  # plain strings, ready for ::add-mask::


def test_every_credential_kind_echoed_every_way_is_masked_in_everything_run_writes(
    tmp_path: Path,
) -> None:
    stub = load_stub()
    with stub.StubServer(stub.StubConfig(answer=leaks.echo_text())) as server:
        project = tmp_path / "p"
        (project / "prompts").mkdir(parents=True)
        (project / "prompts" / "p.md").write_text("Tell me about {{ topic }}.\n")
        (project / "promptloop.yaml").write_text(
            f"model: openai/stub\napi_base: {server.base_url}\nretries: 0\n"
            "suites:\n  - name: leak\n    prompt: prompts/p.md\n    dataset:\n"
            "      - {id: a, topic: keys}\n      - {id: b, topic: tokens}\n"
            "    evaluators:\n      - contains: nothing-like-this\n"
        )
        env = cli_env(**leaks.CREDENTIALS)
        proc = run_promptloop(project, "run", ".", "-o", "out", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    outputs = [c.output for c in read_results(project / "out" / "results.json").suites[0].cases]
    assert all(o.count("***") == 5 * len(leaks.SECRETS) for o in outputs), outputs
    ours = {project / "promptloop.yaml", project / "prompts" / "p.md"}
    written = leaks.files_under(project, skip=ours)
    names = {name for name, _ in written}
    assert {"out/results.json", "out/junit.xml", "out/report.md"} <= names
    assert any(name.startswith(".promptloop/cache") for name in names), names
    read = leaks.assert_nothing_leaks(
        [*written, ("stdout", proc.stdout.encode()), ("stderr", proc.stderr.encode())]
    )
    assert read == len(written) + 2
