"""The GitHub REST OpenAPI subset: routing, request validation and response shapes.

The fake only answers operations that exist in the subset, validates every request body
against the operation's own schema, and builds responses by filling the schema's required
fields before overlaying real state, so PyGithub sees objects shaped like GitHub's.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

SPEC_PATH = (
    Path(__file__).resolve().parent.parent / "fixtures/github/openapi/github-rest-subset.json"
)

# These path parameters may contain slashes in real GitHub URLs.
_GREEDY_PARAMS = {"path", "ref", "branch"}
_METHODS = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    operation_id: str
    regex: re.Pattern[str]
    body_required: bool
    body_schema: dict[str, Any] | None
    doc_url: str


def _nullable_to_type(node: Any) -> Any:
    """OpenAPI 3.0 `nullable` has no JSON Schema meaning; turn it into an explicit null type."""
    if isinstance(node, list):
        return [_nullable_to_type(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _nullable_to_type(v) for k, v in node.items()}
    if out.pop("nullable", False):
        t = out.get("type")
        if isinstance(t, str):
            out["type"] = [t, "null"]
        elif isinstance(t, list) and "null" not in t:
            out["type"] = [*t, "null"]
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
        if "type" not in out and "enum" not in out:
            return {"anyOf": [out, {"type": "null"}]}
    return out


def _route_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    rx = ""
    for part in parts:
        m = re.fullmatch(r"\{([^}]+)\}", part)
        if m:
            name = m.group(1)
            rx += f"(?P<{name}>.+)" if name in _GREEDY_PARAMS else f"(?P<{name}>[^/]+)"
        else:
            rx += re.escape(part)
    return re.compile(f"^{rx}$")


# Operations PyGithub calls that the subset lacks, written from GitHub's REST docs.
_EXTRA_PATHS: dict[str, Any] = {
    "/repos/{owner}/{repo}/pulls/{pull_number}/comments/{comment_id}/replies": {
        "post": {
            "operationId": "pulls/create-reply-for-review-comment",
            "externalDocs": {
                "url": "https://docs.github.com/rest/pulls/comments"
                "#create-a-reply-for-a-review-comment"
            },
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {"body": {"type": "string"}},
                            "required": ["body"],
                        }
                    }
                },
            },
            "responses": {
                "201": {
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/pull-request-review-comment"}
                        }
                    }
                }
            },
        }
    }
}


def _get_extra(operation_id: str, doc: str, schema: str) -> dict[str, Any]:
    content = {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}
    return {
        "get": {
            "operationId": operation_id,
            "externalDocs": {"url": f"https://docs.github.com/rest/{doc}"},
            "responses": {"200": {"content": content}},
        }
    }


_EXTRA_PATHS["/repos/{owner}/{repo}/pulls/{pull_number}"] = {
    "patch": {
        "operationId": "pulls/update",
        "externalDocs": {"url": "https://docs.github.com/rest/pulls/pulls#update-a-pull-request"},
        "requestBody": {
            "required": False,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "title": {"type": "string"},
                            "body": {"type": "string"},
                            "state": {"type": "string", "enum": ["open", "closed"]},
                            "base": {"type": "string"},
                            "maintainer_can_modify": {"type": "boolean"},
                        },
                        "additionalProperties": False,
                    }
                }
            },
        },
        "responses": {
            "200": {
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/pull-request"}}
                }
            }
        },
    }
}
_EXTRA_PATHS["/repos/{owner}/{repo}/pulls/comments/{comment_id}"] = _get_extra(
    "pulls/get-review-comment", "pulls/comments", "pull-request-review-comment"
)
_EXTRA_PATHS["/repos/{owner}/{repo}/issues/comments/{comment_id}"] = _get_extra(
    "issues/get-comment", "issues/comments", "issue-comment"
)


class Spec:
    def __init__(self, path: Path = SPEC_PATH) -> None:
        self.doc: dict[str, Any] = _nullable_to_type(json.loads(path.read_text()))
        for template, item in _EXTRA_PATHS.items():
            self.doc["paths"].setdefault(template, {}).update(copy.deepcopy(item))
        self.components = self.doc["components"]
        ops: list[Operation] = []
        for template, item in self.doc["paths"].items():
            for method in _METHODS:
                op = item.get(method)
                if op is None:
                    continue
                rb = op.get("requestBody")
                schema = rb["content"]["application/json"]["schema"] if rb else None
                ops.append(
                    Operation(
                        method=method.upper(),
                        template=template,
                        operation_id=op["operationId"],
                        regex=_route_regex(template),
                        body_required=bool(rb and rb.get("required")),
                        body_schema=schema,
                        doc_url=op.get("externalDocs", {}).get(
                            "url", "https://docs.github.com/rest"
                        ),
                    )
                )
        # Literal segments win over parameters: `/commits/{ref}/check-runs` before `/commits/{ref}`.
        ops.sort(key=lambda o: (-len(re.sub(r"\{[^}]+\}", "", o.template)), o.template))
        self.operations = ops
        self._validators: dict[str, jsonschema.protocols.Validator] = {}

    def match(self, method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
        for op in self.operations:
            if op.method != method:
                continue
            m = op.regex.match(path)
            if m:
                return op, m.groupdict()
        return None

    def path_exists(self, path: str) -> bool:
        return any(op.regex.match(path) for op in self.operations)

    def _validator(self, key: str, schema: dict[str, Any]) -> jsonschema.protocols.Validator:
        v = self._validators.get(key)
        if v is None:
            # Carrying the components along lets `#/components/...` refs resolve in place.
            root = {**schema, "components": self.components}
            v = jsonschema.Draft202012Validator(root)
            self._validators[key] = v
        return v

    def validate_body(self, op: Operation, body: Any) -> str | None:
        """Return jsonschema's message for the most relevant error, or None when valid."""
        if op.body_schema is None:
            return None
        errors = list(self._validator(op.operation_id, op.body_schema).iter_errors(body))
        if not errors:
            return None
        best = jsonschema.exceptions.best_match(errors)
        assert best is not None
        return str(best.message)

    def response_schema(self, op: Operation, status: int) -> dict[str, Any] | None:
        item = self.doc["paths"][op.template][op.method.lower()]
        resp = item["responses"].get(str(status))
        if resp is None:
            return None
        resp = self.resolve(resp)
        schema = resp.get("content", {}).get("application/json", {}).get("schema")
        return schema if isinstance(schema, dict) else None

    def validate_response(self, op: Operation, status: int, body: Any) -> list[str]:
        schema = self.response_schema(op, status)
        if schema is None:
            return []
        v = self._validator(f"{op.operation_id}:{status}", schema)
        return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in v.iter_errors(body)]

    def resolve(self, node: Any) -> Any:
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            assert ref.startswith("#/"), ref
            target: Any = self.doc
            for part in ref[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node = target
        return node

    def skeleton(self, schema_name: str) -> dict[str, Any]:
        out = copy.deepcopy(_skeleton_cached(self, schema_name))
        assert isinstance(out, dict), schema_name
        return out

    def shaped(self, schema_name: str, data: dict[str, Any]) -> dict[str, Any]:
        """`data` on top of the schema's required fields, so the response validates."""
        out = overlay(self.skeleton(schema_name), data)
        assert isinstance(out, dict)
        return out

    def fill(self, node: Any, depth: int = 0) -> Any:
        """Smallest value that satisfies `node`: required properties only, nulls where allowed."""
        node = self.resolve(node)
        if not isinstance(node, dict) or depth > 40:
            return None
        if "allOf" in node:
            merged: dict[str, Any] = {}
            for sub in node["allOf"]:
                val = self.fill(sub, depth + 1)
                if isinstance(val, dict):
                    merged.update(val)
            return merged
        for key in ("anyOf", "oneOf"):
            if key in node:
                return self.fill(node[key][0], depth + 1)
        if "enum" in node:
            return node["enum"][0]
        t = node.get("type")
        types = t if isinstance(t, list) else [t]
        if "null" in types:
            return None
        kind = types[0]
        if kind == "object" or (kind is None and "properties" in node):
            props = node.get("properties", {})
            return {
                name: self.fill(props.get(name, {}), depth + 1) for name in node.get("required", [])
            }
        if kind == "array":
            return []
        if kind == "string":
            if node.get("format") == "date-time":
                return "2026-01-01T00:00:00Z"
            return "x" * int(node.get("minLength", 0))
        if kind in ("integer", "number"):
            return 0
        if kind == "boolean":
            return False
        return None


@cache
def _skeleton_cached(spec: Spec, schema_name: str) -> Any:
    return spec.fill({"$ref": f"#/components/schemas/{schema_name}"})


def overlay(base: Any, top: Any) -> Any:
    """Deep-merge `top` onto `base`; values in `top` win, nested dicts merge."""
    if isinstance(base, dict) and isinstance(top, dict):
        out = dict(base)
        for k, v in top.items():
            out[k] = overlay(base.get(k), v) if k in base else v
        return out
    return top


@cache
def load_spec() -> Spec:
    return Spec()
