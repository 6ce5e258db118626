"""`promptloop cases import`: traces in every supported format become cases, people's
feedback becomes reviewers' verdicts, through the CLI as a user runs it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.support import cli_env, copy_project, run_promptloop

TRACES = Path(__file__).parents[1] / "fixtures" / "traces"
# The OpenTelemetry export's spans of the tagline prompt, into the suite's dataset.
IMPORT_OTEL = (
    "cases",
    "import",
    "traces/otel-genai.json",
    "--suite",
    "taglines",
    "--where",
    "app.prompt=tagline",
)


def project_with_traces(tmp_path: Path) -> Path:
    project = copy_project("taglines-prod", tmp_path)
    shutil.copytree(TRACES, project / "traces")
    return project


def dataset(project: Path) -> list[dict]:
    text = (project / "evals" / "products.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def feedback(project: Path) -> list[dict]:
    path = project / "evals" / "products.feedback.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_otel_genai_spans_become_cases_with_their_vars_and_a_verdict(tmp_path):
    project = project_with_traces(tmp_path)
    proc = run_promptloop(
        project,
        *IMPORT_OTEL,
    )
    assert proc.returncode == 0, proc.stderr
    rows = dataset(project)
    assert len(rows) == 4  # two written by hand, two from production
    new = rows[2:]
    assert [(r["product"], r["description"]) for r in new] == [
        ("Glowbox", "a night light that fades with your breathing"),
        ("Trailmix Pro", "a hiking app with offline maps"),
    ]
    assert all(r["id"].startswith("trace-") and len(r["id"]) == 18 for r in new)
    assert new[1]["metadata"]["source"] == {
        "format": "otel",
        "trace_id": "5b8efff798038103d269b633813fc60c",
        "span_id": "aa11bb22cc33dd44",
    }
    assert new[1]["metadata"]["production_output"].startswith("Trailmix Pro is an app!")
    [verdict] = feedback(project)
    assert verdict["case"] == new[1]["id"]
    assert verdict["verdict"] == "bad" and verdict["by"] == "maria"
    assert verdict["note"].startswith("Three sentences and exclamation marks")
    assert verdict["source"] == "trace:otel:5b8efff798038103d269b633813fc60c/aa11bb22cc33dd44"
    assert "added 2 cases;" in proc.stdout
    assert (
        "1 of other prompts or not model calls" not in proc.stdout
    )  # the HTTP span and the summary
    assert "2 of other prompts or not model calls" in proc.stdout


def test_importing_the_same_file_twice_adds_nothing(tmp_path):
    project = project_with_traces(tmp_path)
    args = IMPORT_OTEL
    assert run_promptloop(project, *args).returncode == 0
    before = (project / "evals" / "products.jsonl").read_text()
    before_feedback = (project / "evals" / "products.feedback.jsonl").read_text()
    again = run_promptloop(project, *args)
    assert again.returncode == 0, again.stderr
    assert "added 0 cases; 2 already in the dataset" in again.stdout
    assert (project / "evals" / "products.jsonl").read_text() == before
    assert (project / "evals" / "products.feedback.jsonl").read_text() == before_feedback


def test_dry_run_prints_and_writes_nothing(tmp_path):
    project = project_with_traces(tmp_path)
    before = (project / "evals" / "products.jsonl").read_text()
    proc = run_promptloop(
        project,
        *IMPORT_OTEL,
        "--dry-run",
    )
    assert proc.returncode == 0, proc.stderr
    assert "would add 2 cases;" in proc.stdout
    assert '"product": "Glowbox"' in proc.stdout
    assert "would add 1 reviewer verdict\n" in proc.stdout and "(s)" not in proc.stdout
    assert (project / "evals" / "products.jsonl").read_text() == before
    assert not (project / "evals" / "products.feedback.jsonl").exists()


def test_openinference_spans_with_phoenix_annotations(tmp_path):
    project = project_with_traces(tmp_path)
    proc = run_promptloop(
        project,
        "cases",
        "import",
        "traces/openinference.json",
        "traces/phoenix-annotations.jsonl",
        "--suite",
        "taglines",
        "--prompt-version",
        "v3",
    )
    assert proc.returncode == 0, proc.stderr
    [new] = dataset(project)[2:]
    assert new["product"] == "Nimbus Bag"
    assert new["metadata"]["source"]["format"] == "openinference"
    # Only the person's annotation is a verdict; the LLM annotator's is not.
    [verdict] = feedback(project)
    assert (verdict["verdict"], verdict["by"]) == ("bad", "lee")
    assert "name the backpack's use" in verdict["note"]


def test_langfuse_export_with_scores(tmp_path):
    project = project_with_traces(tmp_path)
    proc = run_promptloop(
        project,
        "cases",
        "import",
        "traces/langfuse.json",
        "--suite",
        "taglines",
        "--prompt-name",
        "tagline",
    )
    assert proc.returncode == 0, proc.stderr
    [new] = dataset(project)[2:]
    assert (new["product"], new["description"]) == (
        "Quietly",
        "noise-cancelling earbuds for sleeping",
    )
    [verdict] = feedback(project)  # the EVAL score is a judge's, not a person's
    assert verdict["verdict"] == "bad" and verdict["note"] == "Way over 12 words."


def test_jsonl_logs_are_masked_and_kept_as_data(tmp_path):
    project = project_with_traces(tmp_path)
    env = cli_env(SHOP_API_KEY="sk-live-SECRETSECRETSECRET1234")
    proc = run_promptloop(
        project,
        "cases",
        "import",
        "traces/log.jsonl",
        "--suite",
        "taglines",
        "--prompt-name",
        "tagline",
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    text = (project / "evals" / "products.jsonl").read_text()
    notes = (project / "evals" / "products.feedback.jsonl").read_text()
    for written in (text, notes, proc.stdout):
        assert "SECRETSECRETSECRET" not in written
        assert "ops@example.com" not in written
        assert "555 0100" not in written
    new = dataset(project)[2:]
    assert len(new) == 1  # log-2 is another prompt; log-3 is skipped (below)
    assert "[email]" in new[0]["metadata"]["production_output"]
    # Hostile text stays data: stored as written, neutralised only where it is shown.
    assert new[0]["description"] == "a pen for @octocat that writes <img src=x onerror=alert(1)>"
    assert "skipped jsonl:log-3/c: its input is not a rendering of the prompt" in proc.stdout


def test_a_span_that_is_not_the_prompt_is_skipped_with_why(tmp_path):
    project = project_with_traces(tmp_path)
    proc = run_promptloop(
        project, "cases", "import", "traces/log.jsonl", "--suite", "taglines", "--dry-run"
    )
    assert proc.returncode == 0, proc.stderr
    assert "needs description, product" in proc.stdout


def test_a_broken_trace_file_is_one_line_with_its_line(tmp_path):
    project = project_with_traces(tmp_path)
    (project / "traces" / "broken.jsonl").write_text('{"output": "x", "messages": []}\n{not json\n')
    proc = run_promptloop(project, "cases", "import", "traces/broken.jsonl", "--suite", "taglines")
    assert proc.returncode == 2
    assert (
        proc.stderr.strip()
        .splitlines()[-1]
        .startswith("promptloop: error: traces/broken.jsonl:2: invalid JSON")
    )
    assert "Traceback" not in proc.stderr


def test_an_unknown_suite_says_which_there_are(tmp_path):
    project = project_with_traces(tmp_path)
    proc = run_promptloop(project, "cases", "import", "traces/log.jsonl", "--suite", "tagline")
    assert proc.returncode == 2
    assert "did you mean 'taglines'" in proc.stderr


def test_imported_cases_run_and_carry_the_reviewers_verdict(tmp_path, serve):
    """The loop closed: the thumbs-down becomes a case and a verdict; a run that gives the
    same output shows the reviewer's note on it."""
    project = project_with_traces(tmp_path)
    args = IMPORT_OTEL
    assert run_promptloop(project, *args).returncode == 0
    _, url = serve(answer="Trailmix Pro is an app! It has maps! Download now!")
    config = project / "promptloop.yaml"
    config.write_text(
        config.read_text().replace(
            "model: scripted/tagline", f"model: openai/stub\napi_base: {url}"
        )
    )
    proc = run_promptloop(
        project, "run", ".", "-o", "out", "-q", env=cli_env(OPENAI_API_KEY="sk-test")
    )
    assert proc.returncode in (0, 1), proc.stderr
    results = json.loads((project / "out" / "results.json").read_text())
    [suite] = results["suites"]
    assert len(suite["cases"]) == 4
    [review] = suite["reviews"]
    assert review["verdict"] == "bad" and review["by"] == "maria"
    assert "exclamation marks" in review["note"]


def test_a_prompt_name_that_spans_do_not_carry_points_to_where(tmp_path):
    project = project_with_traces(tmp_path)
    before = (project / "evals" / "products.jsonl").read_text()
    proc = run_promptloop(
        project, "cases", "import", "traces/otel-genai.json", "--suite", "taglines",
        "--prompt-name", "tagline",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "added 0 cases;" in proc.stdout and "(s)" not in proc.stdout
    # Three model calls name no prompt; the HTTP span is no model call, so not counted.
    assert "  3 model calls name no prompt or version" in proc.stdout
    assert "select them with --where ATTR=VALUE" in proc.stdout
    assert (project / "evals" / "products.jsonl").read_text() == before


def test_an_export_phoenix_itself_made(tmp_path):
    """Made by a real Phoenix (tests/fixtures/traces/README.md says how): OpenInference spans
    from its OpenAI instrumentation, as `GET /v1/projects/{id}/spans/otlpv1` returns them
    (snake_case, template variables flattened one per attribute), and a HUMAN annotation."""
    project = project_with_traces(tmp_path)
    proc = run_promptloop(
        project, "cases", "import", "traces/phoenix-spans-otlpv1.json",
        "traces/phoenix-span-annotations.json", "--suite", "taglines",
        "--prompt-version", "tagline-v3",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    new = dataset(project)[2:]
    assert sorted((r["product"], r["description"]) for r in new) == [
        ("Dewdrop", "a self-watering plant pot"),
        ("Packrat", "a backpack that charges your phone"),
    ]
    packrat = next(r for r in new if r["product"] == "Packrat")
    assert packrat["metadata"]["source"]["span_id"] == "d1ba5f79ab9f6c73"
    assert packrat["metadata"]["production_output"].startswith("Packrat!!!")
    [verdict] = feedback(project)
    assert (verdict["case"], verdict["verdict"]) == (packrat["id"], "bad")
    assert verdict["note"].startswith("Shouting, three exclamation marks")
