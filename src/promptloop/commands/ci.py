"""`promptloop ci`: evaluate what a pull request changed, say so on GitHub, gate the merge.

The order of work: read the Actions runtime and the event; find which suites the change
touches; run them head vs base; learn a revision of each changed prompt that fails; then
write (one review, one sticky comment, one check run) and always report through the runner
(job summary, outputs, annotations, exit code), which keeps working when the token is
read-only. Deciding what to say lives in ``promptloop.github.review``; this module moves data.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from promptloop.commands.optimize import OptimizeOptions, run_optimizer
from promptloop.commands.run import Prepared, RunOptions, execute_run, prepare
from promptloop.engine.results import RunResult, read_results
from promptloop.errors import InfraError, PromptloopError, UserError
from promptloop.gate.verdicts import exit_code_for
from promptloop.github.api import (
    Conclusion,
    ExistingComment,
    GitHubClient,
    PullFile,
    PullFiles,
    ReadOnlyTokenError,
    ReviewComment,
)
from promptloop.github.diff import Hunk
from promptloop.github.event import DispatchContext, PullContext, PushContext, load_event
from promptloop.github.review import (
    Link,
    PlannedComment,
    evaluator_args_text,
    overall_delta_pp,
    overall_pass_rate,
    plan_findings,
    render_revision,
    render_summary,
    review_body,
    suggestion_comment,
    validation_change,
    verdict_of,
)
from promptloop.github.runtime import ActionsRuntime
from promptloop.github.suggestions import plan_suggestions
from promptloop.github.workflow import (
    Annotation,
    annotation_commands,
    append_step_summary,
    emit,
    mask_commands,
    write_outputs,
)
from promptloop.models.stop import StopSignal
from promptloop.optimize import OptimizationResult
from promptloop.project.config import LoadedConfig, find_config, load_config
from promptloop.project.git import blob_sha, changed_paths, ensure_commit, find_root, head_commit
from promptloop.report.files import write_reports
from promptloop.report.markdown import render_markdown
from promptloop.safety import escape_data, inline_code, mask_secrets

CHECK_NAME = "promptloop"
SUGGEST_MODES = ("off", "suggestion", "commit", "pull-request")
_CONCLUSIONS: dict[str, Conclusion] = {
    "pass": "success",
    "fail": "failure",
    "inconclusive": "neutral",
}

GitHubFactory = Callable[[str, str, str], GitHubClient]
T = TypeVar("T")


@dataclass
class CiOptions:
    working_directory: Path = Path(".")
    config_path: Path | None = None
    output_dir: Path | None = None
    comment: bool = True
    suggest: str = "suggestion"
    fail_on: str = "gate"
    concurrency: int | None = None
    cache_dir: Path | None = None
    # Post an existing results.json (e.g. `promptloop merge` of a sharded run) instead of
    # running the suites here; no revision is learned then.
    results_path: Path | None = None
    # The CLI's signal handlers: a cancelled job posts what finished, marked incomplete.
    stop: StopSignal | None = None


# --- pure helpers -------------------------------------------------------------------------


def collect_secrets(runtime: ActionsRuntime, env: Mapping[str, str]) -> list[str]:
    """The token plus every provider key in the environment (``*_API_KEY``)."""
    found = list(runtime.secrets())
    found += [v for k, v in env.items() if k.upper().endswith("_API_KEY") and len(v) >= 4]
    return sorted(set(found))


def evaluator_files(args: Any) -> list[str]:
    """Strings in evaluator arguments that name a file (``checks.py:fn`` → ``checks.py``)."""
    found: list[str] = []
    if isinstance(args, str):
        candidate = args.split(":", 1)[0] if ".py:" in args else args
        if candidate.endswith((".py", ".json", ".yaml", ".yml", ".txt", ".md", ".jsonl")):
            found.append(candidate)
    elif isinstance(args, Mapping):
        for value in args.values():
            found += evaluator_files(value)
    elif isinstance(args, list | tuple):
        for value in args:
            found += evaluator_files(value)
    return found


def suite_files(loaded: LoadedConfig, to_repo: Callable[[Path], str | None]) -> dict[str, set[str]]:
    """suite name → repo-relative paths of every file it depends on."""
    out: dict[str, set[str]] = {}
    for suite in loaded.config.suites:
        names = [suite.prompt]
        if isinstance(suite.dataset, str):
            names.append(suite.dataset)
        for spec in suite.evaluators:
            names += evaluator_files(spec.args)
        paths = {to_repo(loaded.resolve(n)) for n in names}
        out[suite.name] = {p for p in paths if p is not None}
    return out


def relevant_suites(
    files_by_suite: Mapping[str, set[str]],
    changed: Iterable[PullFile],
    config_path: str | None,
) -> tuple[list[str], str]:
    """Suites whose files the change touches (renames count on both names), and why."""
    touched: set[str] = set()
    for f in changed:
        touched.add(f.filename)
        if f.previous_filename:
            touched.add(f.previous_filename)
    if config_path is not None and config_path in touched:
        return list(files_by_suite), f"{config_path} changed, so every suite runs"
    names = [name for name, paths in files_by_suite.items() if paths & touched]
    if not names:
        return [], "no prompt, dataset or evaluator file of any suite changed"
    hit = sorted({p for n in names for p in files_by_suite[n]} & touched)
    return names, f"changed: {', '.join(hit)}"


def content_fingerprint(head_sha: str, report: str) -> str:
    """What a report says about a head, ignoring its timing line (``<sub>…</sub>``) and the
    links of this particular run: a re-run of the same head that reaches the same findings
    leaves GitHub untouched."""
    stable = "\n".join(line for line in report.splitlines() if not line.startswith("<sub>"))
    return hashlib.sha256(f"{head_sha}\n{stable}".encode()).hexdigest()[:16]


def first_changed_line(hunks: Sequence[Hunk]) -> int | None:
    added = sorted(n for h in hunks for n in h.added)
    if added:
        return added[0]
    lines = [n for h in hunks for n in h.new_lines]
    return min(lines) if lines else None


def check_title(result: RunResult) -> str:
    verdict = verdict_of(result)
    rate = overall_pass_rate(result)
    delta = overall_delta_pp(result)
    parts = [f"promptloop: {verdict.upper()}"]
    if rate is not None:
        parts.append(f"{100 * rate:.1f}% pass")
    if delta is not None:
        parts.append(f"{delta:+.1f} pp vs base")
    return " · ".join(parts)


# --- git ----------------------------------------------------------------------------------


def changed_between(root: Path, before: str, after: str) -> list[PullFile] | None:
    """The files a push changed, shaped like a pull request's file list."""
    changed = changed_paths(root, before, after)
    if changed is None:
        return None
    return [
        PullFile(path, "renamed", None, previous_filename=previous)
        if previous
        else PullFile(path, "modified", None)
        for path, previous in changed
    ]


# --- the run ------------------------------------------------------------------------------


@dataclass
class _Revision:
    suite: str
    path: str
    result: OptimizationResult
    where: str = ""
    url: str | None = None


@dataclass
class _Target:
    head_sha: str
    base_sha: str | None
    changed: list[PullFile] | None
    files: PullFiles | None = None


@dataclass
class _State:
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    read_only: bool = False
    suggestion_url: str | None = None


def _default_factory(token: str, api_url: str, repo: str) -> GitHubClient:
    return GitHubClient(token, api_url, repo)


def run_ci(
    opts: CiOptions, env: Mapping[str, str], github_factory: GitHubFactory | None = None
) -> int:
    """Returns the exit code (0 pass/neutral, 1 gate failed, 3 errors decided the gate)."""
    if opts.suggest not in SUGGEST_MODES:
        raise UserError(f"suggest must be one of {', '.join(SUGGEST_MODES)}", key="suggest")
    if opts.fail_on not in ("gate", "never"):
        raise UserError("fail-on must be gate or never", key="fail-on")
    runtime = ActionsRuntime.from_environ(env)
    secrets = collect_secrets(runtime, env)
    emit(mask_commands(secrets))
    return _CiRun(opts, runtime, secrets, github_factory or _default_factory).run()


class _CiRun:
    def __init__(
        self,
        opts: CiOptions,
        runtime: ActionsRuntime,
        secrets: Sequence[str],
        factory: GitHubFactory,
    ) -> None:
        self.opts = opts
        self.runtime = runtime
        self.secrets = list(secrets)
        self.factory = factory
        self.state = _State()
        self.client: GitHubClient | None = None
        # Whether each commit is in the checkout: a missing one costs a fetch to find out.
        self._commits: dict[str, bool] = {}
        base = runtime.workspace or Path.cwd()
        self.workdir = (base / opts.working_directory).resolve()
        self.output_dir = (
            (Path.cwd() / opts.output_dir).resolve()
            if opts.output_dir is not None
            else self.workdir / "promptloop-results"
        )
        self.cache_dir = (Path.cwd() / opts.cache_dir).resolve() if opts.cache_dir else None
        self.results_path = (
            (Path.cwd() / opts.results_path).resolve() if opts.results_path else None
        )

    # -- plumbing --------------------------------------------------------------------------

    def _can_comment(self, pull: PullContext | None) -> bool:
        return pull is not None and self.opts.comment and not self.state.read_only

    def _all_notes(self) -> list[str]:
        return self.state.notes + [f"Warning: {w}" for w in self.state.warnings]

    def _mask(self, text: str) -> str:
        return mask_secrets(text, self.secrets)

    def _github(self) -> GitHubClient:
        if self.client is None:
            self.client = self.factory(
                self.runtime.require_token(), self.runtime.api_url, self.runtime.repository
            )
        return self.client

    def _write(self, what: str, fn: Callable[[], T]) -> T | None:
        """One GitHub write; a read-only token stops all further writes, other errors warn."""
        if self.state.read_only:
            return None
        try:
            return fn()
        except ReadOnlyTokenError as exc:
            self.state.read_only = True
            self.state.notes.append(
                f"The GitHub token is read-only ({exc.one_line()}); promptloop reports through "
                "the exit code, annotations and this job summary instead."
            )
        except InfraError as exc:
            self.state.warnings.append(f"could not {what}: {exc.one_line()}")
        return None

    @contextlib.contextmanager
    def _in_workdir(self) -> Iterator[None]:
        if not self.workdir.is_dir():
            raise UserError("working directory does not exist", path=str(self.workdir))
        with contextlib.chdir(self.workdir):
            yield

    # -- main flow -------------------------------------------------------------------------

    def run(self) -> int:
        rt = self.runtime
        ctx = load_event(rt.event_path, rt.event_name, sha=rt.sha, repository=rt.repository)
        with self._in_workdir():
            config_path = self.opts.config_path or find_config(Path("."))
            if not config_path.is_absolute() and self.opts.config_path is None:
                config_path = Path(os.path.relpath(config_path.resolve(), Path.cwd()))
            loaded = load_config(config_path)
            root = find_root(Path(".")) or self.workdir
            return self._run_in(ctx, loaded, config_path, root)

    def _to_repo(self, root: Path) -> Callable[[Path], str | None]:
        def convert(path: Path) -> str | None:
            try:
                return path.resolve().relative_to(root.resolve()).as_posix()
            except ValueError:
                return None

        return convert

    def _have_commit(self, root: Path, sha: str) -> bool:
        if sha not in self._commits:
            self._commits[sha] = ensure_commit(root, sha)
        return self._commits[sha]

    def _resolve_event(
        self, ctx: PullContext | PushContext | DispatchContext, root: Path
    ) -> _Target:
        """Which commits to compare, and which files changed (None: unknown, run everything)."""
        if isinstance(ctx, PushContext):
            changed = None
            if ctx.before is not None and self._have_commit(root, ctx.before):
                changed = changed_between(root, ctx.before, ctx.after)
            return _Target(ctx.after, ctx.before, changed)
        if isinstance(ctx, DispatchContext):
            head = ctx.sha or self.runtime.sha or ""
            return _Target(head, ctx.inputs.get("baseline") or None, None)
        if ctx.is_fork and ctx.event_name == "pull_request":
            self.state.read_only = True
            self.state.notes.append(
                "This pull request comes from a fork, so its token is read-only: no review, "
                "comment or check run is posted; the gate is this job's exit code, "
                "its annotations and this summary."
            )
        if ctx.event_name == "pull_request_target":
            self.state.notes.append(
                "Running on pull_request_target: the token can write, so check out and run "
                "only code you trust (never the fork's code with secrets)."
            )
        try:
            files = self._github().pull_files(ctx.number)
        except InfraError as exc:
            self.state.warnings.append(f"could not list the PR's files: {exc.one_line()}")
            self.state.notes.append("The PR's files could not be listed, so every suite runs.")
            return _Target(ctx.head_sha, ctx.base_sha, None)
        if files.truncated:
            self.state.notes.append(
                "GitHub lists at most 3000 files of a pull request and this one has more, "
                "so every suite runs."
            )
            return _Target(ctx.head_sha, ctx.base_sha, None, files)
        return _Target(ctx.head_sha, ctx.base_sha, list(files.files), files)

    def _run_in(
        self,
        ctx: PullContext | PushContext | DispatchContext,
        loaded: LoadedConfig,
        config_path: Path,
        root: Path,
    ) -> int:
        to_repo = self._to_repo(root)
        by_suite = suite_files(loaded, to_repo)
        pull = ctx if isinstance(ctx, PullContext) else None
        target = self._resolve_event(ctx, root)
        head_sha, base_sha, changed, files = (
            target.head_sha,
            target.base_sha,
            target.changed,
            target.files,
        )
        if not head_sha:
            raise UserError("no commit to report on: GITHUB_SHA is not set", key="GITHUB_SHA")
        local_head = head_commit(root)
        if local_head and local_head != head_sha and pull is not None:
            self.state.warnings.append(
                f"the checked-out commit {local_head[:12]} is not the PR head {head_sha[:12]}; "
                "use actions/checkout with ref: ${{ github.event.pull_request.head.sha }}"
            )

        if changed is not None:
            config_rel = to_repo(loaded.path)
            suites, why = relevant_suites(by_suite, changed, config_rel)
            if not suites:
                return self._nothing_changed(pull, head_sha, why)
            self.state.notes.append(why[:1].upper() + why[1:] + ".")
        else:
            suites = list(by_suite)

        if base_sha is not None and not self._have_commit(root, base_sha):
            self.state.notes.append(
                f"The base commit {base_sha[:12]} is not in this checkout (use actions/checkout "
                "with fetch-depth: 0), so there is no base-vs-head comparison."
            )
            base_sha = None

        run_opts = RunOptions(
            start_dir=Path("."),
            config_path=config_path,
            output_dir=self.output_dir,
            suites=tuple(suites),
            concurrency=self.opts.concurrency,
            baseline=base_sha,
            stop=self.opts.stop,
        )
        prepared = self._with_cache_dir(prepare(run_opts))
        if self.results_path is not None:
            result = read_results(self.results_path)
            self.state.notes.append(
                f"Results from {self.results_path.name} (computed by earlier jobs), so no "
                "revision is learned in this job."
            )
            revisions: list[_Revision] = []
        else:
            result = execute_run(run_opts, prepared)
            revisions = []
            if not result.incomplete:
                revisions = self._learn_revisions(
                    prepared, run_opts, result, files, to_repo, head_sha
                )
        return self._report(prepared, result, revisions, files, pull, head_sha, to_repo, root)

    def _with_cache_dir(self, prepared: Prepared) -> Prepared:
        if self.cache_dir is None:
            return prepared
        cfg = prepared.loaded.config
        cache = cfg.cache.model_copy(update={"dir": str(self.cache_dir), "enabled": True})
        loaded = replace(prepared.loaded, config=cfg.model_copy(update={"cache": cache}))
        return replace(prepared, loaded=loaded)

    # -- revisions -------------------------------------------------------------------------

    def _learn_revisions(
        self,
        prepared: Prepared,
        run_opts: RunOptions,
        result: RunResult,
        files: PullFiles | None,
        to_repo: Callable[[Path], str | None],
        head_sha: str,
    ) -> list[_Revision]:
        if self.opts.suggest == "off" or files is None:
            return []
        revisions: list[_Revision] = []
        seen_paths: set[str] = set()
        for plan in prepared.plans:
            suite = next((s for s in result.suites if s.name == plan.name), None)
            path = to_repo(Path(plan.prompt.path))
            pull_file = files.get(path) if path else None
            if suite is None or path is None or pull_file is None or path in seen_paths:
                continue
            if pull_file.status == "removed" or not any(c.status == "fail" for c in suite.cases):
                continue
            seen_paths.add(path)
            try:
                optimized = run_optimizer(prepared, plan, OptimizeOptions(run=run_opts))
            except PromptloopError as exc:
                self.state.notes.append(f"No revision learned for {plan.name}: {exc.one_line()}")
                continue
            if optimized.improved and optimized.revised_text != optimized.seed_text:
                revisions.append(_Revision(plan.name, path, optimized))
            else:
                reason = optimized.stop_reason or optimized.status
                self.state.notes.append(
                    f"The optimizer found no better prompt for {plan.name} ({reason})."
                )
        return revisions

    # -- reporting -------------------------------------------------------------------------

    def _nothing_changed(self, pull: PullContext | None, head_sha: str, why: str) -> int:
        text = f"promptloop: nothing to evaluate ({why})."
        if self._can_comment(pull) and pull is not None:
            # A head that undid the prompt change leaves earlier findings stale.
            existing = self._write(
                "list earlier review comments",
                lambda: self._github().existing_review_comments(pull.number),
            )
            self._mark_superseded(existing or [], head_sha, f"{head_sha[:12]} ({why})")
        summary = f"## promptloop — skipped\n\n{text}\n"
        self._write(
            "create the check run",
            lambda: self._github().create_check_run(
                head_sha,
                CHECK_NAME,
                "neutral",
                "promptloop: no prompt changed",
                summary,
                details_url=self.runtime.run_url,
                fingerprint=content_fingerprint(head_sha, summary),
            ),
        )
        emit([self._mask(f"::notice title=promptloop::{text}")])
        self._runner_report(summary, {"verdict": "skipped", "pass-rate": "", "delta": ""}, [])
        return 0

    def _plan_findings(
        self,
        prepared: Prepared,
        result: RunResult,
        files: PullFiles | None,
        head_sha: str,
        to_repo: Callable[[Path], str | None],
        root: Path,
    ) -> tuple[list[PlannedComment], list[PlannedComment], list[Annotation]]:
        """(inline comments, findings for the summary, annotations) over every suite."""
        level = "error" if verdict_of(result) == "fail" else "warning"
        inline: list[PlannedComment] = []
        unplaced: list[PlannedComment] = []
        annotations: list[Annotation] = []
        specs = {s.name: s for s in prepared.loaded.config.suites}
        for suite in result.suites:
            path = to_repo(Path(suite.prompt_path)) or suite.prompt_path
            pull_file = files.get(path) if files else None
            hunks = _hunks(pull_file)
            args = evaluator_args_text(specs[suite.name].evaluators) if suite.name in specs else {}
            comments, anns = plan_findings(
                suite,
                path,
                _read_text(root / path).splitlines(),
                {n for h in hunks for n in h.new_lines},
                first_changed_line(hunks),
                args,
                head_sha,
                level=level,
            )
            annotations += anns
            for c in comments:
                (inline if c.line is not None else unplaced).append(c)
        return inline, unplaced, annotations

    def _report(
        self,
        prepared: Prepared,
        result: RunResult,
        revisions: list[_Revision],
        files: PullFiles | None,
        pull: PullContext | None,
        head_sha: str,
        to_repo: Callable[[Path], str | None],
        root: Path,
    ) -> int:
        gate = prepared.loaded.config.gate
        verdict = verdict_of(result)
        inline, unplaced, annotations = self._plan_findings(
            prepared, result, files, head_sha, to_repo, root
        )
        revision_md = self._place_revisions(revisions, files, pull, head_sha, inline, root)
        if revisions:
            optimization = {
                "markdown": "\n\n".join(revision_md),
                "suites": {r.suite: r.result.to_dict() for r in revisions},
            }
            result = result.model_copy(update={"optimization": optimization})
        paths = write_reports(result, self.output_dir)
        for p in paths.values():
            p.write_text(self._mask(p.read_text(encoding="utf-8")), encoding="utf-8")

        writes_ok = self._can_comment(pull)
        on_github = False
        if writes_ok and pull is not None:
            on_github = self._post_review(pull, head_sha, inline, verdict, files)
        if not on_github:
            # The summary carries what could not become review comments.
            unplaced = [c for c in inline if c.kind != "suggestion"] + unplaced
            writes_ok = self._can_comment(pull)
        report_md = render_markdown(result)
        summary = self._mask(
            render_summary(
                report_md,
                notes=self._all_notes(),
                links=self.state.links,
                unplaced=unplaced,
            )
        )
        if writes_ok and pull is not None:
            url = self._write(
                "update the summary comment",
                lambda: self._github().upsert_sticky_comment(
                    pull.number, summary, fingerprint=content_fingerprint(head_sha, report_md)
                ),
            )
            if url:
                self.state.links.append(Link("summary comment", url))
        if not self.state.read_only:
            self._write(
                "create the check run",
                lambda: self._github().create_check_run(
                    head_sha,
                    CHECK_NAME,
                    _CONCLUSIONS[verdict],
                    check_title(result),
                    summary,
                    annotations=[replace(a, message=self._mask(a.message)) for a in annotations],
                    details_url=self.runtime.run_url,
                    fingerprint=content_fingerprint(head_sha, report_md),
                ),
            )
        # Notes added while posting (read-only, failed writes) belong in the job summary too.
        job_summary = render_summary(
            report_md,
            notes=self._all_notes(),
            links=self.state.links,
            unplaced=unplaced,
        )
        rate = overall_pass_rate(result)
        delta = overall_delta_pp(result)
        outputs = {
            "verdict": verdict,
            "pass-rate": "" if rate is None else f"{rate:.4f}",
            "delta": "" if delta is None else f"{delta:.2f}",
            "results-path": str(paths["results"]),
        }
        self._runner_report(job_summary, outputs, annotations)
        if self.opts.fail_on == "never":
            return 0
        return exit_code_for(result, gate)

    def _place_revisions(
        self,
        revisions: list[_Revision],
        files: PullFiles | None,
        pull: PullContext | None,
        head_sha: str,
        inline: list[PlannedComment],
        root: Path,
    ) -> list[str]:
        rendered: list[str] = []
        for rev in revisions:
            res = rev.result
            pull_file = files.get(rev.path) if files else None
            hunks = _hunks(pull_file)
            plan = plan_suggestions(res.seed_text, res.revised_text, hunks)
            scores = res.scores.to_dict()
            why = _score_line(scores)
            if plan.complete and plan.suggestions and not self._can_comment(pull):
                where = "No review is posted from this run; apply the diff below by hand."
            elif plan.complete and plan.suggestions:
                for s in plan.suggestions:
                    inline.append(suggestion_comment(rev.path, s, head_sha, why, rev.suite))
                where = "Offered as suggested changes in the review: commit them from there."
            else:
                where = self._deliver_whole(rev, pull, head_sha, root)
            rendered.append(
                render_revision(rev.suite, rev.path, res.rationale, res.unified_diff, scores, where)
            )
        return rendered

    def _deliver_whole(
        self, rev: _Revision, pull: PullContext | None, head_sha: str, root: Path
    ) -> str:
        """A revision that does not fit the diff: commit it, open a PR with it, or just show it."""
        mode = self.opts.suggest
        text = rev.result.revised_text
        if self._mask(text) != text:
            return "It contains a secret, so promptloop does not commit it anywhere."
        title = f"promptloop: learned revision of {rev.path}"
        if pull is None or self.state.read_only:
            return "It touches lines outside this diff; apply the diff below by hand."
        same_repo = not pull.is_fork
        if mode == "commit" and same_repo:
            expected = blob_sha(root, head_sha, rev.path)
            if expected is None:
                return "It could not be committed (the file is not in the head commit)."
            sha = self._write(
                f"commit the revision of {rev.path}",
                lambda: self._github().commit_file(
                    pull.head_ref, rev.path, text, title, expected, base_ref=pull.base_ref
                ),
            )
            if sha:
                url = f"{self.runtime.server_url}/{self.runtime.repository}/commit/{sha}"
                self.state.suggestion_url = url
                self.state.links.append(Link("learned revision (commit)", url))
                return (
                    f"Committed to {inline_code(pull.head_ref)} as {url} (commits pushed with "
                    "the Actions token start no new workflow run)."
                )
            return "Committing it failed; see the warnings above."
        if mode == "pull-request" and same_repo:
            body = (
                f"A revision of {inline_code(rev.path)} learned from the critiques on "
                f"#{pull.number}. Merge it into {inline_code(pull.head_ref)} to take it."
            )
            pr_url = self._write(
                "open the revision pull request",
                lambda: self._github().open_revision_pull(
                    pull.number, pull.head_ref, head_sha, rev.path, text, title, body
                ),
            )
            if pr_url:
                self.state.suggestion_url = pr_url
                self.state.links.append(Link("learned revision (pull request)", pr_url))
                return f"Opened as a pull request into {inline_code(pull.head_ref)}: {pr_url}"
            return "Opening a pull request with it failed; see the warnings above."
        if mode in ("commit", "pull-request"):
            return (
                "It touches lines outside this diff and the PR comes from a fork, so it is not "
                "pushed anywhere; apply the diff below by hand."
            )
        return (
            "It touches lines outside this diff, so it cannot be a suggested change; apply the "
            "diff below, or set `suggest: commit` or `suggest: pull-request`."
        )

    def _post_review(
        self,
        pull: PullContext,
        head_sha: str,
        inline: list[PlannedComment],
        verdict: str,
        files: PullFiles | None,
    ) -> bool:
        """Post the new inline comments; True when every one of them is now on the PR."""
        gh = self._github()
        existing = self._write(
            "list earlier review comments", lambda: gh.existing_review_comments(pull.number)
        )
        if existing is None:
            existing = []
        posted = {(e.fingerprint, e.head_sha) for e in existing}
        new = [c for c in inline if (c.fingerprint, head_sha) not in posted]
        wanted = {c.fingerprint for c in inline if c.kind == "suggestion"}
        earlier = [e for e in existing if e.head_sha == head_sha and e.fingerprint in wanted]
        if earlier and self.state.suggestion_url is None:
            self.state.suggestion_url = earlier[0].html_url
        review_url: str | None = None
        ok = True
        if new:
            comments = [
                ReviewComment(c.path, self._mask(c.body), c.line, c.start_line)
                for c in new
                if c.line is not None
            ]
            body = review_body(verdict, len(comments), "The summary comment has the numbers.")
            review = self._write(
                "post the review",
                lambda: gh.post_review(pull.number, head_sha, body, comments, files=files),
            )
            ok = review is not None
            if review is not None:
                review_url = review.html_url
                self.state.links.append(Link("review", review.html_url))
                if any(c.kind == "suggestion" for c in new) and self.state.suggestion_url is None:
                    self.state.suggestion_url = review.html_url
        superseded_by = f"{head_sha[:12]}" + (f" ({review_url})" if review_url else "")
        self._mark_superseded(existing, head_sha, superseded_by)
        return ok

    def _mark_superseded(
        self, existing: Sequence[ExistingComment], head_sha: str, superseded_by: str
    ) -> None:
        """Comments about an older head get a visible "Outdated" note instead of piling up."""
        gh = self._github()
        for old in existing:
            if old.head_sha != head_sha and not old.outdated:
                self._write(
                    f"mark review comment {old.id} outdated",
                    lambda old=old: gh.mark_outdated(old, superseded_by),  # type: ignore[misc]
                )

    def _runner_report(
        self, summary: str, outputs: dict[str, str], annotations: Sequence[Annotation]
    ) -> None:
        outputs = {**outputs, "suggestion-url": self.state.suggestion_url or ""}
        outputs.setdefault("results-path", "")
        commands, omitted = annotation_commands(annotations)
        emit(self._mask(c) for c in commands)
        for warning in self.state.warnings:
            emit([self._mask(f"::warning title=promptloop::{escape_data(warning)}")])
        if omitted:
            summary += f"\n{omitted} more annotations are in the check run and results.json.\n"
        if self.runtime.step_summary_path is not None:
            append_step_summary(self.runtime.step_summary_path, self._mask(summary))
        else:
            sys.stderr.write(self._mask(summary))
        if self.runtime.output_path is not None:
            write_outputs(self.runtime.output_path, {k: self._mask(v) for k, v in outputs.items()})


def _score_line(scores: Any) -> str:
    validation = validation_change(scores)
    return f"Validation pass rate {validation} on held-out cases." if validation else ""


def _hunks(pull_file: PullFile | None) -> list[Hunk]:
    return pull_file.hunks if pull_file is not None else []


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return ""
