"""`python -m promptloop.cli`."""

from promptloop.cli import main

main()
