"""A prompt check inside an ordinary test: `pytest examples/taglines/tests`.

``check`` renders the prompt, calls the model of examples/taglines/promptloop.yaml (the
embedded SmolLM2 when no provider key is set) and grades the answer with evaluators
written as in promptloop.yaml; ``result.message`` says why a check failed, in the words
`promptloop run` uses. The ``promptloop_check`` fixture does the same from the rootdir.
"""

from pathlib import Path

from promptloop.testing import check

EXAMPLE = Path(__file__).resolve().parents[1]


def test_the_tagline_names_the_product_on_one_line():
    result = check(
        "prompts/tagline.md",
        root=EXAMPLE,
        vars={"product": "Brewly", "description": "a smart coffee maker"},
        evaluators=[{"icontains": "Brewly"}, {"max-length": {"lines": 1}}],
    )
    assert result.passed, result.message
