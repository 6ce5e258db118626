"""Print one version's section of CHANGELOG.md (the GitHub release's notes).

    python scripts/changelog_section.py 1.2.0 > notes.md

The section is everything under ``## [1.2.0]`` up to the next ``## [`` heading. A version
with no section, or an empty one, is an error: a release without notes is a mistake.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

CHANGELOG = Path(__file__).resolve().parents[1] / "CHANGELOG.md"


def section(text: str, version: str) -> str | None:
    heading = re.compile(rf"^## \[{re.escape(version)}\][^\n]*$", flags=re.M)
    found = heading.search(text)
    if found is None:
        return None
    rest = text[found.end() :]
    following = re.search(r"^## \[", rest, flags=re.M)
    body = rest[: following.start()] if following else rest
    # Link references at the foot belong to the whole file, not to this section.
    body = re.sub(r"^\[[^\]]+\]: \S+\s*$", "", body, flags=re.M)
    return body.strip() or None


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.exit("usage: changelog_section.py VERSION")
    version = argv[0].removeprefix("v")
    body = section(CHANGELOG.read_text(encoding="utf-8"), version)
    if body is None:
        sys.exit(
            f"CHANGELOG.md has no notes under '## [{version}]': rename '## [Unreleased]' to "
            f"'## [{version}] - YYYY-MM-DD' before tagging"
        )
    print(body)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
