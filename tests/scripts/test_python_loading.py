"""A config's Python file loaded by several graders' threads at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from promptloop.scripts.python import load_function


def test_a_file_loaded_by_threads_at_once_is_imported_whole(tmp_path: Path) -> None:
    # Importing takes a while: a thread must not take the module half executed.
    (tmp_path / "slow_import.py").write_text(
        "import time\ntime.sleep(0.2)\n\ndef get_transform(output, context):\n    return output\n"
    )
    path = tmp_path / "slow_import.py"
    with ThreadPoolExecutor(4) as pool:
        loaded = list(
            pool.map(
                lambda _: load_function(path, "get_transform", shown="file://slow_import.py"),
                range(4),
            )
        )
    assert len({id(f) for f in loaded}) == 1
