from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from promptloop.dataset.cases import (
    Case,
    case_id_for,
    load_dataset,
    parse_cases,
)
from promptloop.dataset.splits import (
    parse_shard,
    select_shard,
    shard_of,
    split_cases,
    split_of,
)
from promptloop.errors import UserError


def expected_id(vars: dict[str, Any], expected: Any) -> str:
    blob = json.dumps([vars, expected], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def expected_split(case_id: str, ratios: tuple[float, float, float], salt: str = "") -> str:
    digest = hashlib.sha256(f"split:{salt}:{case_id}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    if u < ratios[0]:
        return "train"
    return "val" if u < ratios[0] + ratios[1] else "test"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path, display: str) -> str:
    with pytest.raises(UserError) as info:
        load_dataset(path, display)
    assert info.value.exit_code == 2
    message = str(info.value)
    assert "\n" not in message
    return message


def test_jsonl_cases_with_top_level_vars_and_explicit_vars(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "t.jsonl",
        '{"product": "Acme", "expected": "acme", "tags": ["critical"], "metadata": {"k": 1}}\n'
        "\n"
        '{"id": "g", "vars": {"product": "Globex"}, "expected": null}\n',
    )
    first, second = load_dataset(path, "evals/t.jsonl")
    assert first.vars == {"product": "Acme"}
    assert first.expected == "acme" and first.tags == ("critical",)
    assert first.metadata == {"k": 1}
    assert first.id == expected_id({"product": "Acme"}, "acme")
    assert first.source == "evals/t.jsonl:1"
    assert (second.id, second.source, dict(second.vars)) == (
        "g",
        "evals/t.jsonl:3",
        {"product": "Globex"},
    )


def test_content_id_is_stable_and_ignores_key_order_and_metadata() -> None:
    a, b = parse_cases(
        [
            {"x": 1, "y": [1, 2], "metadata": {"note": "a"}},
            {"y": [1, 2], "x": 1, "expected": "z"},
        ],
        "d",
    )
    assert a.id == expected_id({"x": 1, "y": [1, 2]}, None)
    assert b.id == expected_id({"x": 1, "y": [1, 2]}, "z")
    assert a.id != b.id
    assert case_id_for({"y": [1, 2], "x": 1}, None) == a.id


def test_csv_dataset(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "t.csv",
        'id,product,expected,tags\n,Acme,"two\nlines","a, b"\nk2,Globex,,\n',
    )
    first, second = load_dataset(path, "evals/t.csv")
    assert first.vars == {"product": "Acme"}
    assert first.expected == "two\nlines" and first.tags == ("a", "b")
    assert first.source == "evals/t.csv:2"
    # Empty reserved cells mean "not given": no id -> content hash, no expected -> None.
    assert first.id == expected_id({"product": "Acme"}, "two\nlines")
    assert (second.id, second.expected, second.source) == ("k2", None, "evals/t.csv:4")


def test_csv_row_longer_than_header(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", "product\nAcme\nB,extra\n")
    assert error_of(path, "e.csv") == "e.csv:3: row has more cells than the header's 1 columns"


def test_yaml_and_json_datasets_carry_lines(tmp_path: Path) -> None:
    yaml_path = write(
        tmp_path, "t.yaml", "# cases\n- product: A\n- id: b\n  vars:\n    product: B\n"
    )
    cases = load_dataset(yaml_path, "t.yaml")
    assert [c.source for c in cases] == ["t.yaml:2", "t.yaml:3"]
    json_path = write(tmp_path, "t.json", '[\n {"product": "A"},\n\n {"product": "B"}\n]')
    assert [c.source for c in load_dataset(json_path, "t.json")] == ["t.json:2", "t.json:4"]


def test_duplicate_ids_name_both_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "t.jsonl", '{"id": "x", "a": 1}\n{"a": 2}\n{"id": "x", "a": 3}\n')
    assert error_of(path, "e.jsonl") == "e.jsonl:3: duplicate case id 'x' (first at e.jsonl:1)"


def test_identical_cases_without_ids_are_duplicates(tmp_path: Path) -> None:
    path = write(tmp_path, "t.jsonl", '{"a": 1}\n{"a": 1}\n')
    message = error_of(path, "e.jsonl")
    assert message.startswith("e.jsonl:2: duplicate case: same vars and expected as e.jsonl:1")


def test_bad_json_line(tmp_path: Path) -> None:
    path = write(tmp_path, "t.jsonl", '{"a": 1}\n{"a": }\n')
    assert error_of(path, "e.jsonl").startswith("e.jsonl:2: invalid JSON: Expecting value")


def test_non_mapping_row_and_bad_fields(tmp_path: Path) -> None:
    assert error_of(write(tmp_path, "a.jsonl", '{"a": 1}\n[1, 2]\n'), "a.jsonl") == (
        "a.jsonl:2: a case must be a mapping of variables, got list"
    )
    assert error_of(write(tmp_path, "b.jsonl", '{"vars": [1]}\n'), "b.jsonl") == (
        "b.jsonl:1: vars: `vars` must be a mapping, got list"
    )
    assert error_of(write(tmp_path, "c.jsonl", '{"a": 1, "tags": [1]}\n'), "c.jsonl") == (
        "c.jsonl:1: tags: `tags` must be a list of strings"
    )
    assert error_of(write(tmp_path, "d.jsonl", '{"id": "", "a": 1}\n'), "d.jsonl") == (
        "d.jsonl:1: id: `id` must be a non-empty string, got ''"
    )


def test_unknown_key_beside_vars_suggests_spelling(tmp_path: Path) -> None:
    path = write(tmp_path, "t.yaml", "- vars: {a: 1}\n  expeted: 2\n")
    message = error_of(path, "t.yaml")
    assert message.startswith("t.yaml:2: expeted: unknown key 'expeted'")
    assert "did you mean 'expected'?" in message


def test_missing_empty_and_unsupported_files(tmp_path: Path) -> None:
    assert error_of(tmp_path / "nope.jsonl", "evals/nope.jsonl") == (
        "evals/nope.jsonl: dataset file not found"
    )
    assert (
        error_of(write(tmp_path, "e.jsonl", "\n\n"), "e.jsonl") == "e.jsonl: dataset has no cases"
    )
    assert error_of(write(tmp_path, "e.yaml", ""), "e.yaml") == "e.yaml: dataset has no cases"
    assert error_of(write(tmp_path, "e.txt", "x"), "e.txt").startswith(
        "e.txt: unsupported dataset format '.txt'"
    )
    assert error_of(write(tmp_path, "m.yaml", "a: 1\n"), "m.yaml") == (
        "m.yaml:1: a .yaml dataset must be a list of cases, got dict"
    )
    binary = tmp_path / "b.jsonl"
    binary.write_bytes(b"\xff\xfe\x00")
    assert error_of(binary, "b.jsonl").startswith("b.jsonl: dataset is not UTF-8 text")


def test_inline_rows_use_given_lines_or_indexes() -> None:
    cases = parse_cases([{"a": 1}, {"a": 2}], "promptloop.yaml", lines=[18, 19])
    assert [c.source for c in cases] == ["promptloop.yaml:18", "promptloop.yaml:19"]
    cases = parse_cases([{"a": 1}], "inline")
    assert cases[0].source == "inline[0]"


FIXED_IDS = ["alpha", "beta", "gamma", "delta", "case-17", "c6a4dbd6d430"]


@pytest.mark.parametrize("case_id", FIXED_IDS)
def test_split_of_matches_an_independent_sha256_computation(case_id: str) -> None:
    for ratios in [(0.5, 0.25, 0.25), (0.8, 0.1, 0.1), (0.34, 0.33, 0.33)]:
        assert split_of(case_id, ratios) == expected_split(case_id, ratios)
        assert split_of(case_id, ratios, salt="s1") == expected_split(case_id, ratios, "s1")


def test_split_proportions_on_many_ids() -> None:
    ratios = (0.6, 0.3, 0.1)
    counts = Counter(split_of(f"id-{i}", ratios) for i in range(10_000))
    assert abs(counts["train"] / 10_000 - 0.6) < 0.03
    assert abs(counts["val"] / 10_000 - 0.3) < 0.03
    assert abs(counts["test"] / 10_000 - 0.1) < 0.03


def test_zero_ratio_splits_stay_empty() -> None:
    ids = [f"id-{i}" for i in range(2000)]
    assert {split_of(i, (1.0, 0.0, 0.0)) for i in ids} == {"train"}
    assert {split_of(i, (0.7, 0.3, 0.0)) for i in ids} == {"train", "val"}


def test_split_cases_keeps_order_and_covers_all() -> None:
    cases = parse_cases([{"n": i} for i in range(300)], "d")
    parts = split_cases(cases, (0.5, 0.25, 0.25))
    assert set(parts) == {"train", "val", "test"}
    assert sum(len(v) for v in parts.values()) == 300
    for split, members in parts.items():
        assert all(split_of(c.id, (0.5, 0.25, 0.25)) == split for c in members)
        assert members == [c for c in cases if c in members]


def test_shards_are_independent_of_splits_and_partition_cases() -> None:
    for case_id in FIXED_IDS:
        digest = hashlib.sha256(f"shard:{case_id}".encode()).digest()
        assert shard_of(case_id, 4) == int.from_bytes(digest[:8], "big") % 4
    cases = parse_cases([{"n": i} for i in range(400)], "d")
    shards = [select_shard(cases, i, 4) for i in range(4)]
    assert sorted(c.id for s in shards for c in s) == sorted(c.id for c in cases)
    assert all(60 < len(s) < 140 for s in shards)
    # Within one split, cases spread over all shards (different hash input).
    train = split_cases(cases, (0.5, 0.25, 0.25))["train"]
    assert {shard_of(c.id, 4) for c in train} == {0, 1, 2, 3}
    with pytest.raises(ValueError):
        shard_of("x", 0)


@pytest.mark.parametrize(("text", "parsed"), [("1/4", (0, 4)), ("4/4", (3, 4)), ("1/1", (0, 1))])
def test_parse_shard(text: str, parsed: tuple[int, int]) -> None:
    assert parse_shard(text) == parsed


@pytest.mark.parametrize("text", ["0/4", "5/4", "a/b", "3", "1/0"])
def test_parse_shard_rejects(text: str) -> None:
    with pytest.raises(UserError, match="--shard must look like 1/4"):
        parse_shard(text)


def test_small_datasets_still_give_every_split_with_a_share_a_case() -> None:
    # Drawn one by one, these three ids all land in train (hash below 0.25): no `splits:`
    # setting could give optimize a validation case.
    cases = [Case(id=i, vars={}) for i in ("29d7026d40f5", "f69bf02fe401", "e2de0b72b43a")]
    assert {split_of(c.id, (0.5, 0.25, 0.25)) for c in cases} == {"train"}
    parts = split_cases(cases, (0.5, 0.25, 0.25))
    assert [len(parts[s]) for s in ("train", "val", "test")] == [1, 1, 1]
    # Changing the shares changes the split: no test share, no test case.
    parts = split_cases(cases, (0.5, 0.5, 0.0))
    assert parts["test"] == [] and parts["train"] and parts["val"]
    # Two cases make train and validation before test.
    parts = split_cases(cases[:2], (0.5, 0.25, 0.25))
    assert [len(parts[s]) for s in ("train", "val", "test")] == [1, 1, 0]


def test_large_datasets_keep_the_split_their_hash_draws() -> None:
    cases = [Case(id=f"id-{i}", vars={}) for i in range(200)]
    parts = split_cases(cases, (0.5, 0.25, 0.25))
    for split, members in parts.items():
        assert all(split_of(c.id, (0.5, 0.25, 0.25)) == split for c in members)
