"""The acceptance rule: a candidate against the current prompt, compared case by case.

Accept when the candidate fixes more validation cases than it breaks (``fixed - broken >
0``) and its mean score on the paired cases is not lower (the loop also refuses one that
breaks a case a reviewer marked good). The exact McNemar p-value is recorded but not
required to be small: on a validation set of 20-50 cases a real improvement of a few cases
can never reach p < 0.05 (5 fixed, 0 broken gives p = 0.0625), so a significance
requirement would reject nearly every useful revision. The guard against a lucky candidate
is instead the untouched test split, reported with its own p-value, and the human who
reviews the suggestion.
"""

from __future__ import annotations

from collections.abc import Sequence

from promptloop.engine.outcome import CaseOutcome
from promptloop.gate.stats import mcnemar_exact


def paired_counts(
    before: Sequence[CaseOutcome], after: Sequence[CaseOutcome]
) -> tuple[int, int, float, float]:
    """(fixed, broken, mean_before, mean_after) over cases where neither run errored."""
    after_by_id = {o.case.id: o for o in after}
    fixed = broken = 0
    total_before = total_after = 0.0
    n = 0
    for b in before:
        a = after_by_id.get(b.case.id)
        if a is None or a.error is not None or b.error is not None:
            continue
        n += 1
        fixed += int(a.passed and not b.passed)
        broken += int(b.passed and not a.passed)
        total_before += b.score
        total_after += a.score
    if n == 0:
        return 0, 0, 0.0, 0.0
    return fixed, broken, total_before / n, total_after / n


def weigh_candidate(
    before: Sequence[CaseOutcome], after: Sequence[CaseOutcome]
) -> tuple[bool, str, int, int, float]:
    """(accepted, why, fixed, broken, p_value) for a candidate against the current prompt."""
    fixed, broken, mean_before, mean_after = paired_counts(before, after)
    p = mcnemar_exact(broken, fixed)
    stats = f"fixed {fixed}, broken {broken}, mean {mean_before:.3f} → {mean_after:.3f}, p={p:.3g}"
    if fixed - broken <= 0:
        return False, f"not better on validation ({stats})", fixed, broken, p
    if mean_after < mean_before - 1e-9:
        return False, f"more passes but a lower mean score ({stats})", fixed, broken, p
    return True, f"better on validation ({stats})", fixed, broken, p
