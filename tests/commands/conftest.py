"""The `promptloop ci` harness's fixtures (a fake GitHub and a git repository with a PR),
shared by every ci test module."""

from tests.commands.test_ci_github import gh, scenario

__all__ = ["gh", "scenario"]
