"""The credential names litellm reads, checked against the installed litellm's source: every
one is secret by promptloop's rule, and the table names only what litellm really reads."""

from __future__ import annotations

import ast
import importlib.util
import json
import re
from pathlib import Path

import pytest

from promptloop.safety import is_secret_name
from promptloop.safety.credentials import LITELLM_CREDENTIALS

# Read as environment variables by litellm, named like credentials, but not secret values:
# a file path, a directory, a profile name, a role ARN, an id.
NOT_SECRETS = {
    "AWS_ACCESS_KEY_ID",  # an id; the key itself (AKIA…) is masked by its shape anyway
    "AWS_PROFILE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AZURE_FEDERATED_TOKEN_FILE",
    "CHATGPT_AUTH_FILE",
    "CHATGPT_TOKEN_DIR",
    "GITHUB_COPILOT_ACCESS_TOKEN_FILE",
    "GITHUB_COPILOT_TOKEN_DIR",
    "XAI_OAUTH_AUTH_FILE",
    "XAI_OAUTH_TOKEN_DIR",
}
# Settings, not credentials, whatever words their names hold.
SETTING = re.compile(
    r"(_API_BASE|_BASE_URL|_API_VERSION|_VERSION|_URL|_URI|_BASE|_REGION(_NAME)?|_PROJECT(_ID)?"
    r"|_LOCATION|_ENDPOINT|_HOST|_ACCOUNT_ID|_CERT(IFICATE)?|_CERT_FILE)$"
)
CREDENTIAL_WORD = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|JWT|APIKEY|_PAT$")
READ = re.compile(
    r"(?:get_secret(?:_str|_bool)?|os\.environ\.get|os\.getenv|os\.environ\[)\(?\s*"
    r"[\"']([A-Z][A-Z0-9_]+)[\"']"
)


def litellm_root() -> Path:
    spec = importlib.util.find_spec("litellm")
    if spec is None or spec.origin is None:
        pytest.skip("litellm is not installed")
    return Path(spec.origin).parent


def provider_credentials(root: Path) -> dict[str, str]:
    """Credential-like names litellm reads for its providers, with where."""
    found: dict[str, str] = {}
    # validate_environment: the keys litellm says each provider needs.
    for node in ast.walk(ast.parse((root / "utils.py").read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef) and node.name == "validate_environment":
            for leaf in ast.walk(node):
                value = leaf.value if isinstance(leaf, ast.Constant) else None
                if isinstance(value, str) and re.fullmatch(r"[A-Z][A-Z0-9_]+", value):
                    found.setdefault(value, "utils.validate_environment")
    # OpenAI-compatible providers declared in JSON.
    providers = json.loads((root / "llms/openai_like/providers.json").read_text("utf-8"))
    for name, provider in providers.items():
        if provider.get("api_key_env"):
            found.setdefault(provider["api_key_env"], f"providers.json {name}")
    # Every provider module's reads of the environment.
    sources = [*sorted((root / "llms").rglob("*.py")), root / "main.py"]
    for path in sources:
        for match in READ.finditer(path.read_text(encoding="utf-8")):
            found.setdefault(match.group(1), str(path.relative_to(root)))
    return {
        name: where
        for name, where in found.items()
        if CREDENTIAL_WORD.search(name) and not SETTING.search(name) and name not in NOT_SECRETS
    }


def test_every_credential_litellm_reads_is_secret() -> None:
    credentials = provider_credentials(litellm_root())
    assert len(credentials) > 50, "the scan no longer finds litellm's provider credentials"
    missed = {n: where for n, where in credentials.items() if not is_secret_name(n)}
    assert missed == {}, "add these to promptloop/safety/credentials.py"


def test_the_issue_names_are_among_them() -> None:
    credentials = provider_credentials(litellm_root())
    for name in ("AWS_BEARER_TOKEN_BEDROCK", "WATSONX_APIKEY", "VERTEXAI_CREDENTIALS"):
        assert name in credentials
    for name in ("GIGACHAT_CREDENTIALS", "AIMLAPI_KEY", "COMETAPI_KEY"):
        assert name in credentials


def test_the_table_names_only_what_litellm_reads() -> None:
    root = litellm_root()
    text = "\n".join(p.read_text(encoding="utf-8") for p in root.rglob("*.py"))
    unread = {n for n in LITELLM_CREDENTIALS if f'"{n}"' not in text and f"'{n}'" not in text}
    assert unread == set()
