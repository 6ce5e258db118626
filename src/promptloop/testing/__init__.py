"""promptloop from pytest: suites as test items (the plugin) and prompt checks in tests.

pytest imports ``promptloop.testing.plugin`` in every project where promptloop is installed,
and with it this package: the public names load on first use, so that costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from promptloop.testing.checks import CheckResult, PromptChecker, assert_prompt, check

__all__ = ["CheckResult", "PromptChecker", "assert_prompt", "check"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from promptloop.testing import checks

        return getattr(checks, name)
    raise AttributeError(f"module 'promptloop.testing' has no attribute {name!r}")
