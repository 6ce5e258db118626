"""The threshold check: the suite's pass rate against its ``threshold`` (or the project's
``min_pass_rate``), plainly or, with ``threshold_rule: statistical``, beyond doubt."""

from __future__ import annotations

import math
from collections.abc import Sequence

from promptloop.gate.pairing import AveragedCase
from promptloop.gate.rules import GateCheck, GatePolicy, cases, level, too_few
from promptloop.gate.stats import about, cases_to_show_below, wilson_interval
from promptloop.wording import pct


def minimum_check(head: Sequence[AveragedCase], policy: GatePolicy, alone: bool) -> GateCheck:
    """``alone``: no baseline, so the words are about the suite, not a head."""
    minimum = policy.minimum
    assert minimum is not None
    ran = [r for r in head if not r.error]
    n = len(ran)
    required = f"the threshold of {pct(minimum)}"
    if n == 0:
        return GateCheck(
            "min_pass_rate",
            "inconclusive",
            f"No case could be judged, so {required} cannot be checked.",
        )
    successes = math.fsum(r.passed for r in ran)
    rate = successes / n
    figures = f"{'The' if alone else 'Head'} pass rate {pct(rate)} over {cases(n)}"
    plain = f"The suite passes {pct(rate)} of its {cases(n)}"
    if policy.threshold_rule == "plain":
        if rate < minimum:
            return GateCheck(
                "min_pass_rate",
                "fail",
                f"{figures} is below {required}.",
                plain=f"{plain}, below {required}.",
            )
        return GateCheck("min_pass_rate", "pass", f"{figures} meets {required}.")
    # Two-sided at 2c - 1 puts (1 - c) in each tail: each bound is one-sided at c.
    _lo, hi = wilson_interval(min(successes, float(n)), n, 2.0 * policy.confidence - 1.0)
    bound = f"{level(policy.confidence)} upper bound {pct(hi)}"
    if hi < minimum:
        return GateCheck(
            "min_pass_rate",
            "fail",
            f"{figures} ({bound}) is below {required}.",
            plain=f"{plain}, below {required}.",
        )
    if rate < minimum:
        needed = cases_to_show_below(rate, minimum, policy.confidence)
        more = (
            f"about {about(needed)} cases would show whether it is really below"
            if needed is not None
            else "only many more cases would show whether it is really below"
        )
        return GateCheck(
            "min_pass_rate",
            "inconclusive",
            f"{figures} is below {required} but within noise ({bound}): too few cases to "
            f"decide; {more}.",
            plain=(
                f"{plain}, below {required}, but {too_few(n)} to tell that from noise "
                f"(gate.threshold_rule is statistical); {more}."
            ),
        )
    return GateCheck("min_pass_rate", "pass", f"{figures} meets {required}.")
