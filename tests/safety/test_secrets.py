"""The one secrets rule: what counts as secret, and masking that survives case, line breaks
and halves, while promptloop's own ids and ordinary text stay as they are."""

from __future__ import annotations

import pytest

from promptloop.safety import is_secret_name, known_secrets, mask_secrets

KEY = "ABSKQmVkcm9ja0FQSUtleS1hYmNkZWZnaGlqa2xtbm9wcXJzdHV2"


@pytest.mark.parametrize(
    "name",
    [
        "OPENAI_API_KEY",
        "AWS_BEARER_TOKEN_BEDROCK",
        "WATSONX_APIKEY",
        "VERTEXAI_CREDENTIALS",
        "GIGACHAT_CREDENTIALS",
        "AIMLAPI_KEY",
        "COMETAPI_KEY",
        "AWS_SECRET_ACCESS_KEY",
        "GITHUB_TOKEN",
        "INPUT_GITHUB-TOKEN",
        "DB_PASSWORD",
        "CLARIFAI_PAT",
        "azure_client_secret",
        "SNOWFLAKE_JWT",
    ],
)
def test_credential_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name", ["HOME", "MAX_TOKENS", "OPENAI_API_BASE", "AWS_REGION_NAME", "SORT_KEYS", "PATH"]
)
def test_settings_are_not_credentials(name: str) -> None:
    assert not is_secret_name(name)


def test_known_secrets_takes_names_url_passwords_and_json_credentials() -> None:
    service_account = (
        '{"type": "service_account", "client_email": "bot@p.iam", '
        '"private_key": "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0B\\n'
        '-----END PRIVATE KEY-----\\n", "private_key_id": "0123456789abcdef"}'
    )
    env = {
        "AWS_BEARER_TOKEN_BEDROCK": KEY,
        "VERTEXAI_CREDENTIALS": service_account,
        "CACHE_URL": "redis://default:hunter2hunter@cache:6379/0",
        "HOME": "/home/someone",
        "SHORT_TOKEN": "abc",
    }
    found = known_secrets(env, urls=["rediss://:s3cr3tpass@h:1", "redis://cache", None])
    assert KEY in found and "hunter2hunter" in found and "s3cr3tpass" in found
    # The service account's secret fields, not its ordinary ones.
    assert any("MIIEvQIBADANBgkqhkiG9w0B" in s for s in found)
    assert not any("service_account" in s or "bot@p.iam" in s for s in found)
    assert "abc" not in found and "/home/someone" not in found


@pytest.mark.parametrize(
    "shown",
    [
        KEY,
        KEY.upper(),
        KEY.lower(),
        KEY[:25] + "\n" + KEY[25:],
        KEY[:25] + "\r\n  " + KEY[25:],
        KEY[: len(KEY) // 2],
        KEY[len(KEY) // 2 :],
        KEY[10:22],
    ],
    ids=["whole", "upper", "lower", "two lines", "crlf indent", "first half", "second half", "12"],
)
def test_a_known_secret_is_masked_however_it_is_cut(shown: str) -> None:
    out = mask_secrets(f"the key is {shown}, done", [KEY])
    assert out == "the key is ***, done"


def test_fewer_than_twelve_characters_of_a_long_secret_stay() -> None:
    assert mask_secrets(f"prefix {KEY[:11]} x", [KEY]) == f"prefix {KEY[:11]} x"


def test_a_short_secret_is_masked_only_whole() -> None:
    assert mask_secrets("pw=hunter2x and hunter", ["hunter2x"]) == "pw=*** and hunter"


@pytest.mark.parametrize(
    "value",
    [
        "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8t",
        "sk-ant-api03-abcdefghijklmnop0123456789",
        "AKIAIOSFODNN7EXAMPLE",
        "ghp_0123456789abcdefghijABCDEFGHIJklmnop",
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCD",
        "xoxb-1234567890-abcdefghij",
        "AIzaSyA1234567890abcdefghijklmnopqrstuv",
        "hf_abcdefghijklmnopqrstuvwxyz0123456789",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "wJalrXUtnFEMI7K7MDENG2bPxRfiCYzEXAMPLEKEYq9",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
    ],
)
def test_credential_shaped_values_are_masked_unknown(value: str) -> None:
    assert mask_secrets(f"got {value} here", []) == "got *** here"


@pytest.mark.parametrize(
    "text",
    [
        "case c0ffee123456 failed",  # promptloop's case ids
        "head 0123456789abcdef0123456789abcdef01234567",  # a git SHA
        "sha256 " + "ab" * 32,
        "5f0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b",  # a UUID
        "see TestEchoedKeyIsMaskedInCacheResultsAndReports2",
        "tests/fixtures/golden/summary_with_revision.md",
        "the task-based sk-learn pipeline",
        "sk-learn-is-a-great-library",
        "a very_long_snake_case_identifier_with_many_parts_2",
    ],
)
def test_ordinary_text_and_our_own_ids_stay(text: str) -> None:
    assert mask_secrets(text, []) == text
