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
