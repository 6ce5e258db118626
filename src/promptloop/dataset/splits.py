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
    """Each case in the split its hash draws (``split_of``), except that a split with a share
    is never left empty while another split can spare a case: drawn one by one, three
    cases land in the same split more often than not, and then no `splits:` setting
    helps. The case moved is the one whose hash lies nearest the empty split's range, so
    the choice is as stable as the hash; large datasets are never touched."""
    listed = list(cases)
    chosen = {case.id: split_of(case.id, ratios, salt) for case in listed}
    names: tuple[Split, ...] = ("train", "val", "test")
    starts = (0.0, ratios[0], ratios[0] + ratios[1])
    for name, share, start in zip(names, ratios, starts, strict=True):
        if share <= 0 or name in chosen.values():
            continue
        counts = {n: sum(1 for s in chosen.values() if s == n) for n in names}
        # A split gives up a case it can spare, or its only one to a split that matters
        # more (train, then validation, then test): two cases still make train and val.
        donors = [
            c
            for c in listed
            if counts[chosen[c.id]] > 1 or names.index(chosen[c.id]) > names.index(name)
        ]
        if not donors:
            break
        middle = start + share / 2
        nearest = min(donors, key=lambda c: (abs(_unit(f"split:{salt}:{c.id}") - middle), c.id))
        chosen[nearest.id] = name
    out: dict[Split, list[Case]] = {"train": [], "val": [], "test": []}
    for case in listed:
        out[chosen[case.id]].append(case)
    return out


def splits_by_id(
    cases: Iterable[Case], ratios: tuple[float, float, float], salt: str = ""
) -> dict[str, Split]:
    """case id → split, as ``split_cases`` assigns them."""
    return {
        c.id: name for name, members in split_cases(cases, ratios, salt).items() for c in members
    }


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
