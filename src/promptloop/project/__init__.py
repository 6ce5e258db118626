"""What the user wrote: promptloop.yaml, prompt files, suites ready to run, and git reads of
a baseline. May import evaluators, models, dataset and the foundation."""
