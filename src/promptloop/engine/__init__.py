"""Running cases: the runner, what one case produced, and the results.json document.
May import project, evaluators, models, dataset and the foundation."""
