"""How the forecast and the budget read, the same in the console, report.md and the job
summary. Only promptloop's own words and numbers (model names come from the config)."""

from __future__ import annotations

from promptloop.engine.results import RunResult
from promptloop.engine.spending import Forecast
from promptloop.models.base import is_embedded
from promptloop.wording import plural


def forecast_line(forecast: Forecast) -> str:
    """One sentence: the calls, tokens and dollars a run is forecast to take."""
    text = (
        f"Forecast: {plural(forecast.calls, 'model call')}"
        f" ({forecast.cached} more answered by the cache, free)"
        # An upper estimate: a judge's prompt is counted with the answer it judges at that
        # answer's max_tokens, and answers rarely fill it, so "about" alone overstates.
        f", up to about {forecast.prompt_tokens:,} prompt and "
        f"{forecast.completion_tokens:,} answer tokens, up to about ${forecast.cost_usd:.4f}"
    )
    if forecast.confirmation_calls:
        text += (
            f"; at most {plural(forecast.confirmation_calls, 'more call')} if the gate "
            "re-runs changed cases"
        )
    # The embedded model is free, not unpriced: saying litellm lacks its price reads as a gap.
    free = [m for m in forecast.unpriced_models if is_embedded(m)]
    unpriced = [m for m in forecast.unpriced_models if not is_embedded(m)]
    if free:
        text += f" ({', '.join(free)} runs on this machine, free)"
    if unpriced:
        text += f" (litellm has no price for {', '.join(unpriced)}: counted at $0)"
    return text + "."


def budget_line(result: RunResult) -> str | None:
    """What the run's budget allowed and, when it was reached, what did not run."""
    budget = result.budget
    if budget is None:
        return None
    text = (
        f"Budget {budget.limits_shown()}: spent {plural(budget.spent_calls, 'call')}, "
        f"${budget.spent_usd:.4f}"
    )
    if budget.refused is None:
        return text + "."
    if not result.incomplete:
        return f"{text}; reached after every case ran ({budget.refused}): learning stopped early."
    return (
        f"{text}; reached ({budget.refused}), so {plural(result.not_run, 'case')} did not "
        f"run. The verdict is {budget.on_exceeded} (`budget.on_exceeded`)."
    )
