"""``promptloop.yaml``: its schema, one module per part, and reading the text into it.

``file.Config`` is the whole file; ``parse.parse_config`` reads it with line-accurate
errors. This is the file's schema only; ``project.loader`` reads the file and what it names.
"""
