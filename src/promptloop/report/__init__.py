"""Reports rendered from a RunResult: console tables, progress, JUnit XML, Markdown, and the
report files. May import optimize, gate, engine and everything below them."""
