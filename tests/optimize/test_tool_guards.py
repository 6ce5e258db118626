"""A candidate may reword tool descriptions; renaming a tool, changing its parameter
schema or the tool_choice is rejected before it is scored."""

from __future__ import annotations

from promptloop.optimize import guards

SEED = """\
tools:
  - type: function
    function:
      name: refund
      description: Refund an order.
      parameters: {type: object, properties: {amount: {type: number}}}
tool_choice: auto
messages:
  - role: user
    content: "{{ message }}"
"""


def check(candidate: str) -> str | None:
    return guards.check_candidate(
        seed=SEED,
        candidate=candidate,
        held_out=[],
        max_length_ratio=3.0,
        path="agent.yaml",
    )


def test_a_new_description_is_accepted():
    better = SEED.replace("Refund an order.", "Refund an order once its number is known.")
    assert guards.check_tools(SEED, better, "agent.yaml") is None
    assert check(better) is None


def test_renaming_a_tool_is_rejected():
    reason = check(SEED.replace("name: refund", "name: give_refund"))
    assert reason == "tools changed: candidate drops or renames `refund` and adds `give_refund`"


def test_changing_a_schema_or_the_choice_is_rejected():
    assert check(SEED.replace("{type: number}", "{type: string}")) == (
        "tools changed: candidate changes the parameters of `refund`"
    )
    assert check(SEED.replace("tool_choice: auto", "tool_choice: required")) == (
        "tools changed: candidate changes tool_choice"
    )


def test_strict_a_dropped_description_or_a_bloated_one_is_rejected():
    strict = SEED.replace(
        "      description: Refund an order.\n", "      description: x\n      strict: true\n"
    )
    assert check(strict) == "tools changed: candidate changes `strict` of `refund`"
    dropped = SEED.replace("      description: Refund an order.\n", "")
    assert check(dropped) == "tools changed: candidate drops the description of `refund`"
    bloated = SEED.replace("Refund an order.", "Refund " + "very " * 80 + "carefully.")
    assert check(bloated) == (
        "tools changed: candidate makes the description of `refund` too long "
        "(417 characters, over 3× the seed's 16)"
    )
