"""Reports rendered from a RunResult: console tables, JUnit XML, Markdown."""
