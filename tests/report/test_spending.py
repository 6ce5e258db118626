"""The forecast's sentence: the embedded model is free, a model litellm cannot price is named."""

from __future__ import annotations

from promptloop.engine.spending import Forecast
from promptloop.report.spending import forecast_line


def test_the_embedded_model_is_called_free_not_unpriced() -> None:
    line = forecast_line(Forecast(calls=12, unpriced_models=["local/smollm2"]))
    assert "(local/smollm2 runs on this machine, free)" in line
    assert "litellm has no price" not in line


def test_a_model_litellm_cannot_price_is_named_beside_the_embedded_one() -> None:
    line = forecast_line(Forecast(calls=3, unpriced_models=["local/smollm2", "acme/x-1"]))
    assert line.endswith(
        "(local/smollm2 runs on this machine, free) "
        "(litellm has no price for acme/x-1: counted at $0)."
    )


def test_tokens_and_dollars_read_as_an_upper_estimate() -> None:
    # Judges' prompts are counted with each answer at its max_tokens: a ceiling, not a guess
    # at what will be sent, so a plain "about" read as a promise on a cold cache.
    line = forecast_line(
        Forecast(calls=40, prompt_tokens=28802, completion_tokens=10240, cost_usd=0.0123)
    )
    assert "up to about 28,802 prompt and 10,240 answer tokens, up to about $0.0123" in line
    assert ", about 28,802" not in line
    assert line.count(".") == 2  # one sentence: the dollar figure's point and the full stop
