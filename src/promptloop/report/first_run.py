"""What just happened, said once after the first run in a project: for someone new."""

from __future__ import annotations

from pathlib import Path

from promptloop.project.loader import Project
from promptloop.wording import plural


def first_run_note(project: Project, out_dir: Path) -> str:
    """What just happened, said once: the first time a run writes its reports here."""
    config = project.loaded.config
    if len(project.plans) == 1:
        plan = project.plans[0]
        suite = next(s for s in config.suites if s.name == plan.name)
        where = suite.dataset if isinstance(suite.dataset, str) else "the config"
        what = f"each of the {plural(len(plan.cases), 'case')} in {where} through {suite.prompt}"
    else:
        what = f"the cases of {plural(len(project.plans), 'suite')} through their prompts"
    cached = (
        f" Answers are cached in {config.cache.dir}/, so a rerun asks only what changed."
        if config.cache.enabled
        else ""
    )
    models = list(dict.fromkeys(plan.model for plan in project.plans))
    to = " and ".join([", ".join(models[:-1]), models[-1]] if len(models) > 1 else models)
    return (
        f"What just happened: promptloop sent {what} to {to}, checked "
        f"every answer with the evaluators, and wrote the reports to {out_dir}/ "
        f"(`promptloop view` opens report.html).{cached} Next: edit the prompt and run "
        "again; once the prompt is committed, `--baseline HEAD` compares an edit with it."
    )
