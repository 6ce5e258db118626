"""Audit every workflow a user may copy with zizmor, offline: action.yml, the example
workflows in .github/workflows/ and each workflow snippet in the README.

The README's snippets are written to a temporary folder first (zizmor reads files). Their
placeholders are filled in as a user would: ``<owner>/promptloop@<commit-sha>`` becomes a
full commit SHA, so the audit holds the snippet to the same rule as the examples.

Usage: python .ci/zizmor.py [extra zizmor arguments]; exits with zizmor's code.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_BLOCK = re.compile(r"^```ya?ml\n(.*?)^```", re.MULTILINE | re.DOTALL)
_PLACEHOLDERS = {"<owner>": "owner", "<commit-sha>": "0" * 40}


def readme_workflows(readme: Path) -> list[str]:
    """The README's YAML blocks that are workflows (they have ``jobs:``), placeholders filled."""
    found = []
    for block in _BLOCK.findall(readme.read_text(encoding="utf-8")):
        if re.search(r"^jobs:", block, re.MULTILINE):
            for placeholder, value in _PLACEHOLDERS.items():
                block = block.replace(placeholder, value)
            found.append(block)
    return found


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory() as folder:
        snippets = []
        for index, text in enumerate(readme_workflows(ROOT / "README.md"), start=1):
            path = Path(folder) / f"README-workflow-{index}.yml"
            path.write_text(text, encoding="utf-8")
            snippets.append(str(path))
        command = [
            "zizmor",
            "--offline",
            "--no-progress",
            *argv,
            str(ROOT / "action.yml"),
            str(ROOT / ".github" / "workflows"),
            *snippets,
        ]
        return subprocess.run(command, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
