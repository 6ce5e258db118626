"""Every evaluator kind, one family per module.

A module here declares its kinds as ``EvaluatorKind`` subclasses (see ``registry``);
``registry.kinds()`` imports each module of this package, so a new module is a new
family with nothing else to edit. Keep them light at import: `promptloop schema`
reads them all.
"""
