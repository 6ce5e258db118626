"""One module per CLI command (run, optimize, merge, ci, init): each wires the library's
packages together for its job. May import every package below it; nothing imports it but
the CLI."""
