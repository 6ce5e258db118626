"""report.html: one self-contained page of a run, base beside head for every case.

The page needs no server and no network: its styles and script are inline and allowed by
hash in a strict Content-Security-Policy, and the run's data travels as JSON in a
``<script type="application/json">`` block that the page's own script reads and builds the
DOM from with ``textContent`` only. Everything from a model, a dataset or a reviewer is
therefore text: the template escapes what it prints, and the JSON is escaped so that no
string in it can close its block.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from promptloop.engine.comparison import ComparisonSummary
from promptloop.engine.optimization import OptimizationResult, SplitScore
from promptloop.engine.results import CaseRecord, RunResult, SuiteResult
from promptloop.report.figures import change_with_interval, format_p, second_look_line
from promptloop.report.headline import headline
from promptloop.report.names import case_label, short_sha
from promptloop.report.spending import budget_line
from promptloop.wording import pct, plural

# What JSON.parse reads back unchanged but an HTML parser cannot take for markup: no string
# can end the script block (``</script>``) or open a comment (``<!--``) inside it.
_JSON_ESCAPES = {
    ord("<"): "\\u003c",
    ord(">"): "\\u003e",
    ord("&"): "\\u0026",
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}

# The kinds a case can be, in the order the filters list them.
KINDS = ("broken", "fixed", "failing", "error", "passing", "removed")


@dataclass(frozen=True)
class _Asset:
    text: str
    csp_hash: str


@cache
def _asset(name: str) -> _Asset:
    text = (files("promptloop.report") / "templates" / name).read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")
    return _Asset(text, f"'sha256-{digest}'")


def json_for_script(data: object) -> str:
    """``data`` as JSON that is safe inside an HTML ``<script>`` element."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).translate(_JSON_ESCAPES)


def _side(record: CaseRecord, same_as: CaseRecord | None = None) -> dict[str, Any]:
    """One run of a case. Short keys: a 10,000-case report carries each of them 20,000 times."""
    side: dict[str, Any] = {"st": record.status}
    shown = record.shown_output
    if same_as is not None and shown == same_as.shown_output:
        side["same"] = 1
    else:
        side["out"] = shown
    if record.error:
        side["err"] = record.error
    if record.evaluations:
        side["ev"] = [
            {
                k: v
                for k, v in {
                    "n": e.evaluator,
                    "ok": e.passed,
                    "sc": round(e.score, 3),
                    "why": e.reason,
                    "err": e.error,
                    "evi": e.evidence,
                    "fix": e.suggested_fix,
                    "abs": e.abstained or None,
                }.items()
                if v is not None and v != ""
            }
            for e in record.evaluations
        ]
    if record.tool_calls:
        side["calls"] = [
            {
                "n": c.name,
                "args": c.raw_arguments if c.arguments is None else json.dumps(c.arguments),
            }
            for c in record.tool_calls
        ]
    side["tok"] = [record.prompt_tokens, record.completion_tokens]
    side["usd"] = record.cost_usd
    side["s"] = round(record.latency_s, 3)
    if record.cached:
        side["cached"] = 1
    return side


def _kind(head: CaseRecord, base: CaseRecord | None, changed: dict[str, str] | None) -> str:
    """broken / fixed as the gate paired them (every repeat counted) when it compared the
    suite, from the first runs' statuses otherwise."""
    if changed is not None and head.id in changed:
        return changed[head.id]
    if head.status == "error" or (base is not None and base.status == "error"):
        return "error"
    if changed is None and base is not None and base.passed != head.passed:
        return "fixed" if head.passed else "broken"
    return "passing" if head.passed else "failing"


def _first_runs(cases: list[CaseRecord]) -> dict[str, CaseRecord]:
    firsts: dict[str, CaseRecord] = {}
    for case in cases:
        if case.id not in firsts or case.repeat < firsts[case.id].repeat:
            firsts[case.id] = case
    return firsts


def _suite_cases(
    suite: SuiteResult, base: SuiteResult | None, cmp: ComparisonSummary | None
) -> list[dict[str, Any]]:
    changed = None
    critical: set[str] = set()
    if cmp is not None:
        changed = {c.case_id: "broken" for c in cmp.broken} | {
            c.case_id: "fixed" for c in cmp.fixed
        }
        critical = {c.case_id for c in (*cmp.broken, *cmp.fixed, *cmp.errored) if c.critical}
    reviews = {r.case_id: r for r in suite.reviews}
    base_runs = _first_runs(base.cases) if base else {}
    repeats: dict[str, list[str]] = {}
    for case in suite.cases:
        repeats.setdefault(case.id, []).append(case.status)
    rows = []
    for head in _first_runs(suite.cases).values():
        base_run = base_runs.pop(head.id, None)
        row: dict[str, Any] = {
            "id": case_label(head),
            "k": _kind(head, base_run, changed),
            "vars": head.vars,
            "h": _side(head),
        }
        if head.messages:
            row["turns"] = [
                {"role": str(t.get("role", "")), "text": _turn_text(t)} for t in head.messages
            ]
        if head.expected is not None:
            row["exp"] = head.expected
        if head.tags:
            row["tags"] = head.tags
        if head.id in critical:
            row["crit"] = 1
        if base_run is not None:
            row["b"] = _side(base_run, same_as=head)
        if len(repeats[head.id]) > 1:
            row["rep"] = repeats[head.id]
        review = reviews.get(head.id)
        if review is not None:
            row["rev"] = {
                "v": review.verdict,
                "by": review.by,
                "note": review.note,
                "at": review.at,
                "st": review.status,
            }
        rows.append(row)
    # Cases the base ran and the head's dataset no longer has: shown with the base's run.
    for gone in base_runs.values():
        rows.append({"id": case_label(gone), "k": "removed", "vars": gone.vars, "h": _side(gone)})
    return rows


def _turn_text(turn: dict[str, Any]) -> str:
    content = turn.get("content")
    if isinstance(content, str):
        return content
    return json.dumps(content, ensure_ascii=False)


def _interval(suite: SuiteResult) -> dict[str, Any] | None:
    """The pass rate with the interval the gate computed (a stopped run has none)."""
    passed, failed, errors = suite.counts
    n = passed + failed
    if not n:
        return None
    shown: dict[str, Any] = {
        "rate": pct(suite.pass_rate),
        "share": f"{passed} of {n}",
        "errors": errors,
        "value": suite.pass_rate,
        "ci": None,
    }
    interval = suite.pass_rate_interval
    if interval is not None:
        shown.update(ci=f"{pct(interval.lo)}–{pct(interval.hi)}", lo=interval.lo, hi=interval.hi)
    return shown


def _revision(name: str, learned: OptimizationResult) -> dict[str, Any]:
    """The learned revision of one suite, as the optimizer recorded it."""
    scores = learned.scores
    splits = []
    for split, label in (("train", "train"), ("val", "validation"), ("test", "held-out test")):
        before, after = getattr(scores, f"{split}_before"), getattr(scores, f"{split}_after")
        if before is None and after is None:
            continue
        splits.append({"label": label, "before": _split(before), "after": _split(after)})
    rounds = [
        {
            "round": c.round,
            "attempt": c.attempt,
            "accepted": c.accepted,
            "why": c.error or c.rejection or c.why,
            "val": f"{_split(c.val_before)} → {_split(c.val_after)}" if c.val_after else "—",
            "fixed": c.fixed,
            "broken": c.broken,
            "rationale": c.rationale,
        }
        for c in learned.trajectory
    ]
    p = scores.test_p_value
    return {
        "suite": name,
        "status": learned.status.replace("_", " "),
        "prompt_path": learned.prompt_path,
        "diff": [
            {"kind": _diff_kind(line), "text": line} for line in learned.unified_diff.splitlines()
        ],
        "rationale": learned.rationale,
        "splits": splits,
        "test_line": (
            f"held-out test: {scores.test_fixed} fixed, {scores.test_broken} broken"
            + ("" if p is None else f", p {format_p(p)}")
        ),
        "rounds": rounds,
        "stopped": learned.stopped(),
        "notes": [*learned.notes, *learned.errors],
    }


def _split(score: SplitScore | None) -> str:
    if score is None:
        return "—"
    return f"{pct(score.pass_rate)} ({score.passes} of {score.n})"


def _diff_kind(line: str) -> str:
    if line.startswith(("+++", "---")):
        return "file"
    if line.startswith("@@"):
        return "hunk"
    return {"+": "add", "-": "del"}.get(line[:1], "same")


def _when(created_at: str) -> str:
    try:
        return datetime.fromisoformat(created_at).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return created_at


def page_view(result: RunResult) -> dict[str, Any]:
    """Everything the page shows, from the typed results alone: the first screen for the
    template, and ``cases`` (per suite) for the page's script."""
    base = {s.name: s for s in result.baseline}
    suites: list[dict[str, Any]] = []
    cases: list[dict[str, Any]] = []
    many = len(result.suites) > 1
    for suite in result.suites:
        cmp = result.comparisons.get(suite.name)
        verdict = result.verdicts.get(suite.name)
        rows = _suite_cases(suite, base.get(suite.name), cmp)
        counts = {kind: sum(1 for r in rows if r["k"] == kind) for kind in KINDS}
        suites.append(
            {
                "name": suite.name,
                "model": suite.model,
                "prompt_path": suite.prompt_path,
                "head": _interval(suite),
                "base": _interval(base[suite.name]) if suite.name in base else None,
                "unchanged": suite.name in result.unchanged_suites,
                "delta": change_with_interval(cmp) if cmp else None,
                "p": format_p(cmp.p_worse) if cmp else None,
                # The verdict's reason is shown beside it only with several suites.
                "confirmation": second_look_line(cmp, verdict if many else None) if cmp else None,
                "first_look": cmp.first_look_only if cmp else None,
                "verdict": verdict.status if verdict else None,
                "reason": verdict.reason if verdict else None,
                "counts": counts,
                "evaluators": [
                    {
                        "name": e.name,
                        "rate": pct(e.pass_rate),
                        "failed": e.failed,
                        "errored": e.errored,
                    }
                    for e in suite.evaluators
                ],
                "not_run": suite.not_run,
            }
        )
        cases.append({"suite": suite.name, "compared": suite.name in base, "cases": rows})
    bars = [
        (f"{s['name']} {side}", s[side], side)
        for s in suites
        for side in ("base", "head")
        if s[side] is not None
    ]
    learned = result.optimization.suites if result.optimization else {}
    head = headline(result)
    return {
        "status": "incomplete"
        if result.incomplete
        else (result.verdict.status if result.verdict else None),
        "why": head.why if head else (result.verdict.reason if result.verdict else None),
        "next": head.next_step if head else None,
        "incomplete": result.incomplete,
        "not_run": result.not_run,
        "spent": budget_line(result),
        "notices": result.notices,
        "when": _when(result.created_at),
        "model": result.model,
        "judge_model": result.judge_model,
        "baseline": short_sha(result.baseline_ref) if result.baseline_ref else None,
        "compared": bool(base),
        "wall": f"{result.wall_s:.1f} s",
        "cost": f"${result.usage.cost_usd:.4f}",
        "tokens": result.usage.prompt_tokens + result.usage.completion_tokens,
        "version": result.promptloop_version,
        "removed": sum(s["counts"]["removed"] for s in suites),
        "cases_total": plural(sum(len(c["cases"]) for c in cases), "case"),
        "suites": suites,
        "bars": bars,
        "revisions": [_revision(name, raw) for name, raw in learned.items()],
        "cases": cases,
    }


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("promptloop.report", "templates"),
        undefined=StrictUndefined,
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


def render_html(result: RunResult) -> str:
    view = page_view(result)
    css, js = _asset("report.css"), _asset("report.js")
    csp = (
        f"default-src 'none'; script-src {js.csp_hash}; style-src {css.csp_hash}; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )
    template = _environment().get_template("report.html.j2")
    return template.render(
        view=view,
        csp=csp,
        css=Markup(css.text),
        js=Markup(js.text),
        data=Markup(json_for_script(view["cases"])),
        kinds=KINDS,
    )


def write_html(result: RunResult, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(render_html(result), encoding="utf-8")
    tmp.replace(path)
