"""javascript and python assertions (inline and file://) and transforms, with promptfoo's
result rules, and hostile code: endless loops and allocations, reaching for require,
process, the network or the environment, Python that hangs."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from promptloop.evaluators.promptfoo import UnsupportedAssertion, build_assertion
from promptloop.evaluators.promptfoo.scripted import function_body
from promptloop.scripts import ScriptError, transform
from tests.evaluators.promptfoo.support import run, verdict


@pytest.mark.parametrize(
    ("code", "passed", "score"),
    [
        ("output.includes('refund')", True, 1.0),
        ("output.length > 100", False, 0.0),
        ("output.length / 100", True, 0.11),  # a number passes above 0...
        ("0", False, 0.0),
        ("({pass: false, score: 0.9, reason: 'close'})", False, 0.9),
        ("const n = output.split(' ').length; n === 3", True, 1.0),
        ("context.vars.name === 'Bob'", True, 1.0),
        ("(console.log('debug', output), output.length > 3)", True, 1.0),
        ("output.split('').reverse().join('') === 'dnufer a si'", True, 1.0),
        ("const s = 'a;b'; s.length === 3;", True, 1.0),
        ("Promise.resolve(true)", True, 1.0),
    ],
)
def test_inline_javascript(code: str, passed: bool, score: float) -> None:
    assert verdict({"type": "javascript", "value": code}, "is a refund", vars={"name": "Bob"}) == (
        passed,
        pytest.approx(score),
    )


def test_javascript_threshold_and_not() -> None:
    raw = {"type": "javascript", "value": "output.length / 100", "threshold": 0.5}
    assert verdict(raw, "x" * 30) == (False, pytest.approx(0.3))  # ...or at the threshold
    assert verdict({**raw, "type": "not-javascript"}, "x" * 30)[0] is True
    assert verdict({"type": "not-javascript", "value": "true"}, "x")[0] is False


def test_multiline_javascript_is_a_function_body() -> None:
    body = (
        "const words = output.split(' ');\n"
        "return {pass: words.length === 2, score: 0.5, reason: 'two'};"
    )
    result = run({"type": "javascript", "value": body}, "two words")
    assert (result.passed, result.score, result.reason) == (True, 0.5, "two")


def test_function_body_matches_promptfoo() -> None:
    assert function_body("output === 'x'") == "return output === 'x'"
    assert function_body("const a = 1; a + 1;") == "const a = 1; return a + 1"
    assert function_body("const s = output; s === 'a;b'") == "const s = output; return s === 'a;b'"


def test_javascript_files(tmp_path: Path) -> None:
    (tmp_path / "cjs.js").write_text(
        "module.exports = (output, context) => output.startsWith(context.vars.prefix);\n"
    )
    (tmp_path / "named.js").write_text(
        "function helper(o) { return o.length; }\n"
        "module.exports.short = (output) =>\n"
        "  ({pass: helper(output) < 5, score: 1, reason: 'len'});\n"
    )
    (tmp_path / "esm.mjs").write_text(
        "export default function (output) { return output === 'ok'; }\n"
    )
    assert (
        verdict(
            {"type": "javascript", "value": "file://cjs.js"},
            "abc",
            vars={"prefix": "a"},
            base_dir=tmp_path,
        )[0]
        is True
    )
    assert (
        verdict(
            {"type": "javascript", "value": "file://named.js:short"}, "abcdef", base_dir=tmp_path
        )[0]
        is False
    )
    assert verdict({"type": "javascript", "value": "file://esm.mjs"}, "ok", base_dir=tmp_path)[0]
    missing = run({"type": "javascript", "value": "file://named.js:nope"}, "x", base_dir=tmp_path)
    assert missing.error is not None and "no function named nope" in missing.error


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("(() => { while (true) {} })()", "time limit"),
        (
            "(() => { const a = []; while (true) a.push('x'.repeat(65536) + a.length); })()",
            "memory",
        ),
        ("require('fs').readFileSync('/etc/passwd', 'utf8')", "require is not available"),
        ("process.mainModule.require('child_process')", "require is not available"),
        ("fetch('http://example.com')", "fetch is not defined"),
        ("new XMLHttpRequest()", "XMLHttpRequest is not defined"),
        ("(function f() { return f(); })()", "call stack"),
        ("/(a|aa)+$/.test('a'.repeat(60) + 'b')", "time limit"),
        ("'x'.repeat(1 << 29).length", "memory"),
        ("undefined_name.x", "ReferenceError"),
    ],
)
def test_hostile_javascript_is_an_error_never_a_pass(code: str, words: str) -> None:
    started = time.monotonic()
    result = run({"type": "not-javascript", "value": code}, "x", timeout_s=1.0)
    assert time.monotonic() - started < 30
    assert result.passed is False and result.error is not None
    assert words in result.error and "\n" not in result.error


def test_javascript_sees_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value")
    result = run(
        {"type": "javascript", "value": "JSON.stringify(process.env).includes('sk-')"}, "x"
    )
    assert result.passed is False and result.error is None


def test_cases_do_not_share_javascript_state() -> None:
    raw = {"type": "javascript", "value": "globalThis.n = (globalThis.n || 0) + 1; n === 1"}
    assert verdict(raw, "a")[0] is True
    assert verdict(raw, "b")[0] is True


@pytest.mark.parametrize(
    ("code", "passed", "score"),
    [
        ("'refund' in output", True, 1.0),
        ("len(output) / 100", True, 0.11),
        ("{'pass': True, 'score': 0.4, 'reason': 'ok'}", True, 0.4),
        ("json.dumps({'pass': False, 'score': 0.2, 'reason': 'r'})", False, 0.2),
        ("'false'", False, 0.0),
        ("context['vars']['name'] == 'Bob'", True, 1.0),
    ],
)
def test_inline_python(code: str, passed: bool, score: float) -> None:
    raw = {"type": "python", "value": code}
    assert verdict(raw, "is a refund", vars={"name": "Bob"}) == (passed, pytest.approx(score))


def test_python_threshold_applies_to_dicts_too() -> None:
    raw = {
        "type": "python",
        "value": "{'pass': True, 'score': 0.4, 'reason': ''}",
        "threshold": 0.5,
    }
    result = run(raw, "x")
    assert result.passed is False and "Python score 0.4 is less than threshold 0.5" in result.reason


def test_multiline_python_and_files(tmp_path: Path) -> None:
    body = "words = output.split()\nif len(words) > 2:\n    return False\nreturn True\n"
    assert verdict({"type": "python", "value": body}, "two words")[0] is True
    (tmp_path / "check.py").write_text(
        "def get_assert(output, context):\n"
        "    return {'pass': output.isupper(), 'score': 1.0, 'reason': 'caps'}\n\n"
        "def custom(output, context):\n    return 0.9 if context['vars']['x'] == 1 else 0\n"
    )
    assert verdict({"type": "python", "value": "file://check.py"}, "ABC", base_dir=tmp_path)[0]
    assert verdict(
        {"type": "python", "value": "file://check.py:custom"}, "a", vars={"x": 1}, base_dir=tmp_path
    ) == (True, 0.9)


def test_hostile_python() -> None:
    started = time.monotonic()
    hung = run({"type": "python", "value": "__import__('time').sleep(60)"}, "x", timeout_s=1.0)
    assert time.monotonic() - started < 20
    assert hung.passed is False and "did not return within 1 s" in (hung.error or "")
    loop = run({"type": "not-python", "value": "[0 for _ in iter(int, 1)]"}, "x", timeout_s=1.0)
    assert loop.passed is False and loop.error is not None
    raised = run({"type": "not-python", "value": "1 / 0"}, "x")
    assert raised.passed is False and "ZeroDivisionError" in (raised.error or "")
    with pytest.raises(UnsupportedAssertion, match=r"pf.yaml:4: .*does not compile"):
        build_assertion(
            {"type": "python", "value": "return ("}, base_dir=Path("."), where="pf.yaml:4"
        )


def test_transforms(tmp_path: Path) -> None:
    ctx = {"vars": {"n": 2}}
    assert transform("output.trim().toUpperCase()", " a ", ctx, base_dir=tmp_path) == "A"
    assert transform("const x = output + '!';\nreturn x", "a", ctx, base_dir=tmp_path) == "a!"
    assert transform(
        "({...vars, m: vars.n + 1})", {"n": 2}, {}, base_dir=tmp_path, input_name="vars"
    ) == {"n": 2, "m": 3}
    (tmp_path / "t.js").write_text("module.exports = { pick: (o, c) => o.slice(0, c.vars.n) };\n")
    (tmp_path / "t.py").write_text("def get_transform(output, context):\n    return output[::-1]\n")
    assert transform("file://t.js:pick", "abcdef", ctx, base_dir=tmp_path) == "ab"
    assert transform("file://t.py", "abc", ctx, base_dir=tmp_path) == "cba"
    for bad, words in [
        ("undefined", "did not return a value"),
        ("output.nope()", "TypeError"),
        ("file://missing.js", "cannot be read"),
        ("file://t.txt", "only .js"),
        ("(() => { while (true) {} })()", "time limit"),
    ]:
        with pytest.raises(ScriptError, match=words):
            transform(bad, "x", ctx, base_dir=tmp_path, seconds=1.0)
    (tmp_path / "slow.py").write_text("def get_transform(o, c):\n    while True:\n        pass\n")
    with pytest.raises(ScriptError, match="time limit of 1 s"):
        transform("file://slow.py", "x", ctx, base_dir=tmp_path, seconds=1.0)


def test_python_that_keeps_allocating_is_stopped_at_its_memory_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMPTLOOP_SCRIPT_MEMORY_MB", "64")
    # 1 GB at most, should the cap not hold.
    hog = "[b'x' * (8 << 20) for _ in range(128)] and True"
    inline = run({"type": "python", "value": hog}, "x", timeout_s=60.0)
    assert inline.passed is False
    assert "python assertion used more than 64 MB of memory and was stopped" in (
        inline.error or ""
    ), inline.error
    (tmp_path / "hog.py").write_text(
        f"def get_assert(output, context):\n    return {hog}\n\n"
        f"def get_transform(output, context):\n    return {hog}\n"
    )
    held = run({"type": "python", "value": "file://hog.py"}, "x", base_dir=tmp_path, timeout_s=60)
    assert "python assertion file://hog.py used more than 64 MB" in (held.error or ""), held.error
    with pytest.raises(ScriptError, match=r"^transform file://hog.py used more than 64 MB"):
        transform("file://hog.py", "x", {}, base_dir=tmp_path, seconds=60.0)
    # ...while Python within the cap runs as before.
    assert verdict({"type": "python", "value": "len(b'x' * (16 << 20)) > 0"}, "x")[0]


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("javascript", "({pass: true})"),  # promptfoo needs pass, score and reason
        ("javascript", "'true'"),  # JavaScript must not answer text
        ("python", "{'pass': True, 'score': 1}"),
        ("python", "[True]"),
        ("python", "None"),
    ],
)
def test_malformed_script_results_never_pass(kind: str, code: str) -> None:
    result = run({"type": kind, "value": code}, "x")
    assert result.passed is False and result.error is not None and result.score == 0.0


def test_what_a_python_script_prints_is_dropped(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "chatty.py").write_text(
        "import sys\n"
        "def get_assert(output, context):\n"
        "    print('::warning::forged workflow command', context['vars'])\n"
        "    print('noise', file=sys.stderr)\n"
        "    return True\n"
        "def get_transform(output, context):\n"
        "    print('::error::from a transform')\n"
        "    return output\n"
    )
    assert verdict({"type": "python", "value": "file://chatty.py"}, "x", base_dir=tmp_path)[0]
    assert transform("file://chatty.py", "x", {}, base_dir=tmp_path) == "x"
    print("promptloop's own line")
    out, err = capfd.readouterr()
    assert "::warning::" not in out and "::error::" not in out and "noise" not in err
    assert "promptloop's own line" in out


def test_javascript_calls_run_side_by_side_without_mixing() -> None:
    import threading

    from promptloop.scripts import js

    wrong: list[object] = []

    def work(k: int) -> None:
        for _ in range(40):
            got = js.call_function(
                "function (o) { return o + ':' + o.length; }", [str(k)], what="t"
            )
            if got != f"{k}:{len(str(k))}":
                wrong.append(got)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []
