"""Environment variables litellm reads as provider credentials whose names the generic rule
(``*_API_KEY``, ``*_TOKEN``, ``*_SECRET``, ``*_PASSWORD``, ``*_CREDENTIALS``, ``*APIKEY``…)
does not catch, or catches only by luck of spelling.

Copied from litellm's source rather than read from litellm at run time: only
``models.litellm_client`` imports litellm, and masking must work before (and without) it.
``tests/safety/test_credentials.py`` reads the installed litellm's source and fails when it
reads a credential that neither this table nor the generic rule covers.
"""

from __future__ import annotations

LITELLM_CREDENTIALS: frozenset[str] = frozenset(
    {
        # The token is not the name's last word.
        "AWS_BEARER_TOKEN_BEDROCK",
        "SNOWFLAKE_JWT",
        "ISSUER_SIGNING_KEY_PEM",
        # Covered by the generic rule too; listed because they are spelled unlike the rest.
        "AIMLAPI_KEY",
        "COMETAPI_KEY",
        "WATSONX_APIKEY",
        "VERTEXAI_CREDENTIALS",
        "VERTEX_CREDENTIALS",
        "GIGACHAT_CREDENTIALS",
        "ANTHROPIC_AUTH_TOKEN",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AZURE_AD_TOKEN",
        "AZURE_CLIENT_SECRET",
        "DATABRICKS_TOKEN",
        "HF_TOKEN",
    }
)
