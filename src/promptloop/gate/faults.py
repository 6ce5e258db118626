"""The two error checks: a provider that kept failing (``errors``) and an evaluator that
could not judge a case (``evaluation``). Neither is a prompt failure; ``on_error`` says
what each does to the gate."""

from __future__ import annotations

from collections.abc import Sequence

from promptloop.gate.pairing import AveragedCase, Comparison
from promptloop.gate.rules import GateCheck, GatePolicy
from promptloop.wording import plural


def errors_check(
    comparison: Comparison | None, head: Sequence[AveragedCase], policy: GatePolicy
) -> GateCheck | None:
    head_errored = sum(1 for r in head if _provider_failed(r))
    base_errored = 0
    if comparison is not None:
        base_errored = sum(1 for p in comparison.pairs if p.base and _provider_failed(p.base))
    confirming = 0
    if comparison is not None and comparison.confirmation is not None:
        confirming = comparison.confirmation.errored_runs
    total = head_errored + base_errored + confirming
    if total == 0:
        return None
    where = f"{head_errored} on head, {base_errored} on base"
    if confirming:
        where += f", {confirming} while confirming"
    subject = f"{plural(total, 'case run')} hit an infrastructure error ({where})"
    if policy.on_error == "fail":
        return GateCheck("errors", "fail", f"{subject}, and gate.on_error is fail.")
    if policy.on_error == "neutral":
        return GateCheck(
            "errors",
            "inconclusive",
            f"{subject}, so the result is incomplete (gate.on_error is neutral).",
        )
    return GateCheck(
        "errors", "pass", f"{subject}; those runs were left out (gate.on_error is ignore)."
    )


def _provider_failed(record: AveragedCase) -> bool:
    errored = max(record.errored_repeats, record.repeats if record.error else 0)
    return errored > record.unevaluated_repeats


def evaluation_check(
    comparison: Comparison | None, head: Sequence[AveragedCase], policy: GatePolicy
) -> GateCheck | None:
    """Cases the model answered and an evaluator could not judge: the project's fault (a
    python check that raised, a judge that answered garbage), not the prompt's."""
    records = list(head)
    if comparison is not None:
        records += [p.base for p in comparison.pairs if p.base is not None]
    unjudged = [r for r in records if r.unevaluated_repeats > 0]
    if not unjudged:
        return None
    names = sorted({name for r in unjudged for name in r.unevaluated_by})
    which = ", ".join(f"`{n}`" for n in names[:3]) + (" and others" if len(names) > 3 else "")
    evaluator = "evaluator" if len(names) == 1 else "evaluators"
    so = (
        "it is an error, not a prompt failure"
        if len(unjudged) == 1
        else "they are errors, not prompt failures"
    )
    subject = (
        f"the {evaluator} {which} could not judge {plural(len(unjudged), 'case run')} "
        f"(it raised or answered unusably), so {so}"
    )
    plain = subject[:1].upper() + subject[1:] + "."
    if policy.on_error == "fail":
        return GateCheck("evaluation", "fail", f"{plain[:-1]}; gate.on_error is fail.", plain=plain)
    if policy.on_error == "neutral":
        return GateCheck(
            "evaluation",
            "inconclusive",
            f"{plain[:-1]}; the result is incomplete (gate.on_error is neutral).",
            plain=plain,
        )
    return GateCheck(
        "evaluation",
        "pass",
        f"{plain[:-1]}; they were left out (gate.on_error is ignore).",
        plain=plain,
    )
