"""The pytest plugin: `pytest --promptloop [PATH]` collects each suite's cases as test items.

pytest imports this module in every project that has promptloop installed (the ``pytest11``
entry point), so it imports nothing of promptloop until the user asks for it: plain
``pytest`` pays nothing and collects nothing extra.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from promptloop.testing.checks import PromptChecker
    from promptloop.testing.suites import CaseOutcomeView, SuiteSession

CONFIG_NAMES = ("promptloop.yaml", "promptloop.yml")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("promptloop", "promptloop: prompt suites as tests")
    group.addoption(
        "--promptloop",
        action="append",
        nargs="?",
        const=".",
        default=None,
        metavar="PATH",
        dest="promptloop_paths",
        help="Collect the promptloop suites in PATH (a folder holding promptloop.yaml, or the "
        "config file itself; default: here) as test items, one per case.",
    )
    group.addoption(
        "--promptloop-baseline",
        metavar="REF",
        dest="promptloop_baseline",
        help="Also run each changed prompt as it was at git REF and add one gate item per suite.",
    )
    group.addoption(
        "--promptloop-model",
        metavar="MODEL",
        dest="promptloop_model",
        help="Model for every suite (overrides promptloop.yaml), e.g. local/smollm2.",
    )
    group.addoption(
        "--promptloop-output",
        metavar="DIR",
        dest="promptloop_output",
        help="Write results.json, junit.xml and report.md there, as `promptloop run` does.",
    )
    group.addoption(
        "--promptloop-no-cache",
        action="store_true",
        default=False,
        dest="promptloop_no_cache",
        help="Call the models even for answers the response cache holds.",
    )
    parser.addini(
        "promptloop",
        type="paths",
        default=[],
        help="promptloop projects (folders or config files) to collect without --promptloop.",
    )


def _requested(config: pytest.Config) -> list[Path]:
    paths: list[Path] = [Path(p) for p in config.getoption("promptloop_paths") or []]
    paths += [Path(p) for p in config.getini("promptloop")]
    return [p.resolve() for p in paths]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "promptloop: a case or gate of a promptloop suite")
    requested = _requested(config)
    if not requested:
        return
    config.stash[_REQUESTED] = requested
    # Resolved once here: pytest asks about every file it walks past.
    config.stash[_WANTED] = {
        found.resolve() for found in (_config_file(p) for p in requested) if found is not None
    }
    # `pytest --promptloop examples/taglines` means those suites, not the project's own
    # testpaths as well; beside paths the user typed, the suites are collected too.
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        config.args = [str(p) for p in requested]
    else:
        typed = [Path(a.split("::", 1)[0]).resolve() for a in config.args]
        config.args += [
            str(p) for p in requested if not any(p == t or t in p.parents for t in typed)
        ]


_REQUESTED = pytest.StashKey[list[Path]]()
_WANTED = pytest.StashKey[set[Path]]()


def _config_file(path: Path) -> Path | None:
    if path.is_file():
        return path
    for name in CONFIG_NAMES:
        if (path / name).is_file():
            return path / name
    return None


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    wanted = parent.config.stash.get(_WANTED, None)
    if not wanted or file_path.resolve() not in wanted:
        return None
    return PromptloopFile.from_parent(parent, path=file_path)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """With pytest-xdist, each suite goes whole to one worker: its cases run as one batch
    (concurrent model calls, one look at the gate) instead of once per worker."""
    if not config.stash.get(_REQUESTED, None):
        return None
    from xdist.scheduler import LoadScopeScheduling

    return LoadScopeScheduling(config, log)


class PromptloopFile(pytest.File):
    """promptloop.yaml: one collector per suite below it."""

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        from promptloop.errors import PromptloopError

        # A mistake in the project reads as `promptloop run` prints it: one line, no traceback.
        if isinstance(excinfo.value, PromptloopError):
            return f"promptloop: {excinfo.value}"
        return super().repr_failure(excinfo)

    def collect(self) -> Iterator[pytest.Item | pytest.Collector]:
        from promptloop.testing.suites import SuiteSession

        config = self.config
        # Named from where pytest was started, as `promptloop run` names files from the
        # path it was given: a case reads "evals/x.jsonl:3", not an absolute path.
        here = config.invocation_params.dir
        path = self.path.relative_to(here) if self.path.is_relative_to(here) else self.path
        session = SuiteSession(
            path,
            model=config.getoption("promptloop_model"),
            baseline=config.getoption("promptloop_baseline"),
            no_cache=config.getoption("promptloop_no_cache"),
        )
        self.stash[_PROJECT] = session
        for suite in session.suite_names():
            yield SuiteCollector.from_parent(self, name=suite)


_PROJECT = pytest.StashKey["SuiteSession"]()


class SuiteCollector(pytest.Collector):
    def project(self) -> SuiteSession:
        assert isinstance(self.parent, PromptloopFile)
        return self.parent.stash[_PROJECT]

    def collect(self) -> Iterator[pytest.Item]:
        project = self.project()
        for case_id in project.case_ids(self.name):
            yield CaseItem.from_parent(self, name=case_id)
        yield GateItem.from_parent(self, name=project.gate_item_name())

    def selected_cases(self) -> list[str]:
        """The cases of this suite that this pytest process will run: after -k, -m, --lf
        and xdist's distribution, so a deselected case calls no model. The gate selected
        alone judges every case."""
        items = self.session.items or []
        chosen = [i.name for i in items if isinstance(i, CaseItem) and i.parent is self]
        return chosen or self.project().case_ids(self.name)

    def outcome(self, case_id: str) -> CaseOutcomeView:
        return self.project().outcome(self.name, case_id, self.selected_cases())

    def gate(self) -> tuple[bool | None, str]:
        return self.project().gate(self.name, self.selected_cases())


class PromptloopFailure(Exception):
    """A case or a gate that did not pass; its message is the whole report."""


class _PromptloopItem(pytest.Item):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_marker("promptloop")

    def suite(self) -> SuiteCollector:
        assert isinstance(self.parent, SuiteCollector)
        return self.parent

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, PromptloopFailure):
            return str(excinfo.value)
        from promptloop.errors import PromptloopError

        if isinstance(excinfo.value, PromptloopError):
            return f"promptloop: {excinfo.value}"
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, self.nodeid


class CaseItem(_PromptloopItem):
    def runtest(self) -> None:
        outcome = self.suite().outcome(self.name)
        for key, value in outcome.properties():
            self.user_properties.append((key, value))
        if outcome.status == "skipped":
            pytest.skip(outcome.message)
        if outcome.status != "pass":
            raise PromptloopFailure(outcome.message)


class GateItem(_PromptloopItem):
    """The suite's threshold, and with a baseline the base-vs-head gate."""

    def runtest(self) -> None:
        passed, message = self.suite().gate()
        if passed is None:
            pytest.skip(message)
        if not passed:
            raise PromptloopFailure(message)


@pytest.fixture
def promptloop_check(request: pytest.FixtureRequest) -> PromptChecker:
    """Run a prompt through promptloop's models and evaluators from an ordinary test::

    def test_greets(promptloop_check):
        result = promptloop_check("prompts/greet.md", vars={"name": "Ada"},
                                  evaluators=[{"contains": "Ada"}])
        assert result.passed, result.message
    """
    from promptloop.testing.checks import PromptChecker

    return PromptChecker(root=Path(request.config.rootpath))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    out = session.config.getoption("promptloop_output", None)
    if not out:
        return
    from promptloop.testing.suites import write_session_reports

    worker = getattr(session.config, "workerinput", {}).get("workerid")
    directory = Path(out) / worker if worker else Path(out)
    projects = {
        item.suite().project() for item in session.items if isinstance(item, _PromptloopItem)
    }
    for project in projects:
        write_session_reports(project, directory)
