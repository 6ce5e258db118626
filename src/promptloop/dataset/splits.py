"""Deterministic splits (train, validation, test) and shards of cases, from their ids alone."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Literal

from promptloop.dataset.cases import Case
from promptloop.errors import UserError

Split = Literal["train", "val", "test"]


def _unit(text: str) -> float:
    """A uniform number in [0, 1) from SHA-256 (first 8 bytes, big-endian)."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_of(case_id: str, ratios: tuple[float, float, float], salt: str = "") -> Split:
    """The split of a case, from ``sha256(f"split:{salt}:{case_id}")`` alone, so it is the
    same on every run and machine and does not move when other cases are added."""
    train, val, test = ratios
    u = _unit(f"split:{salt}:{case_id}")
    if u < train or (val <= 0 and test <= 0):
        return "train"
    if u < train + val or test <= 0:
        return "val"
    return "test"


def split_cases(
    cases: Iterable[Case], ratios: tuple[float, float, float], salt: str = ""
) -> dict[Split, list[Case]]:
    out: dict[Split, list[Case]] = {"train": [], "val": [], "test": []}
    for case in cases:
        out[split_of(case.id, ratios, salt)].append(case)
    return out


def shard_of(case_id: str, n: int) -> int:
    """0-based shard of a case among ``n``: ``sha256(f"shard:{case_id}")`` (a different
    prefix from splits, so shards cut across splits evenly)."""
    if n < 1:
        raise ValueError("shard count must be at least 1")
    digest = hashlib.sha256(f"shard:{case_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % n


def parse_shard(text: str) -> tuple[int, int]:
    """``--shard 2/4`` (1-based, as in CI matrices) -> ``(1, 4)`` (0-based index, count)."""
    head, sep, tail = text.partition("/")
    try:
        index, count = int(head), int(tail)
    except ValueError:
        index = count = 0
    if not sep or count < 1 or not 1 <= index <= count:
        raise UserError(f"--shard must look like 1/4 (i from 1 to n), got {text!r}")
    return index - 1, count


def select_shard(cases: Iterable[Case], index: int, count: int) -> list[Case]:
    return [case for case in cases if shard_of(case.id, count) == index]
